// What the node test files share beyond devenv/node/veltrix.ts (the installation and the demo
// app, also used by scripts/local-up.sh and the kind script): looking at a pod's containers and
// volumes as containerd and the kubelet made them.
import type { V1Pod } from "@kubernetes/client-node";
import type { VeltrixOnNode } from "../../devenv/node/veltrix.ts";

export {
  demoDeployment,
  demoService,
  deployDemo,
  localImageValues,
  podReady,
  releaseName,
  releaseNamespace,
  startVeltrixOnNode,
  type VeltrixOnNode,
} from "../../devenv/node/veltrix.ts";

/** The OCI runtime spec containerd runs a pod's container with (`ctr containers info`). */
export async function containerSpec(
  env: VeltrixOnNode,
  containerID: string | undefined,
): Promise<{ root?: { readonly?: boolean }; process?: { user?: { uid?: number; gid?: number } } }> {
  const id = (containerID ?? "").replace(/^containerd:\/\//, "");
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`not a containerd container id: ${containerID}`);
  const info = JSON.parse(await env.cluster.containerd.ctr(["containers", "info", id])) as {
    Spec?: object;
  };
  return info.Spec ?? {};
}

/**
 * The files of a pod's volume as the kubelet made them (in the node's mount namespace):
 * each with its owner's uid and, when `read`, its content.
 */
export async function volumeFiles(
  env: VeltrixOnNode,
  pod: V1Pod,
  plugin: "empty-dir" | "secret",
  volume: string,
  read = false,
): Promise<{ path: string; uid: number; content?: string }[]> {
  const dir = `/var/lib/kubelet/pods/${pod.metadata?.uid ?? ""}/volumes/kubernetes.io~${plugin}/${volume}`;
  // -L: a Secret volume's files are symlinks to the current ..data directory.
  const listing = await env.cluster.namespace.run("find", [
    "-L",
    dir,
    "-mindepth",
    "1",
    "-maxdepth",
    "1",
    "-type",
    "f",
    "-printf",
    "%U %f\\n",
  ]);
  const files = listing
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [uid = "", ...name] = line.split(" ");
      return { path: name.join(" "), uid: Number(uid) };
    });
  if (!read) return files;
  return Promise.all(
    files.map(async (f) => ({ ...f, content: await env.cluster.namespace.run("cat", [`${dir}/${f.path}`]) })),
  );
}
