// Veltrix as cluster admins and app teams meet it, on the real node (devenv/node/): images
// built here and imported into the node's containerd, the chart installed by helm with its
// bundled NATS, and an app Deployment that opts in. What the node test files share.
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import { helm } from "../../devenv/helm.ts";
import {
  type NodeCluster,
  nodePrerequisites,
  NodeUnavailableError,
  startNodeCluster,
} from "../../devenv/node/cluster.ts";
import {
  type BuiltImage,
  buildNodeImages,
  imageReference,
  type ImageName,
} from "../../devenv/node/images.ts";
import { repoRoot, toolPath } from "../../devenv/tools.ts";

const run = promisify(execFile);

export const releaseNamespace = "veltrix-system";
export const releaseName = "veltrix";

export interface VeltrixOnNode {
  cluster: NodeCluster;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  coordination: CoordinationV1Api;
  custom: CustomObjectsApi;
  helmHome: string;
  timings: Record<string, number>;
  images: Record<ImageName, BuiltImage>;
  bundle: string;
  kubectl(args: string[]): Promise<string>;
  helm(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** The chart values that point it at the images built here (never pulled). */
export function localImageValues(): string[] {
  const split = (name: "operator" | "sidecar" | "nats"): [string, string] => {
    const ref = imageReference(name);
    const at = ref.lastIndexOf(":");
    return [ref.slice(0, at), ref.slice(at + 1)];
  };
  const [operatorRepo, operatorTag] = split("operator");
  const [sidecarRepo, sidecarTag] = split("sidecar");
  const [natsRepo, natsTag] = split("nats");
  return [
    `operator.image.repository=${operatorRepo}`,
    `operator.image.tag=${operatorTag}`,
    "operator.image.pullPolicy=Never",
    `sidecar.image.repository=${sidecarRepo}`,
    `sidecar.image.tag=${sidecarTag}`,
    "sidecar.image.pullPolicy=Never",
    `nats.bundled.image.repository=${natsRepo}`,
    `nats.bundled.image.tag=${natsTag}`,
    "nats.bundled.image.pullPolicy=Never",
  ].flatMap((value) => ["--set", value]);
}

/** Builds the bundle and images, starts the node cluster and installs the chart. */
export async function startVeltrixOnNode(dir: string): Promise<VeltrixOnNode> {
  const missing = await nodePrerequisites();
  if (missing.length > 0) throw new NodeUnavailableError(missing);
  const started = Date.now();
  const timings: Record<string, number> = {};
  const mark = (what: string): void => {
    timings[what] = (Date.now() - started) / 1000;
  };
  mkdirSync(dir, { recursive: true });
  const bundle = join(dir, "bundle");
  await run("bash", [join(repoRoot, "scripts/build-bundle.sh"), bundle], { maxBuffer: 16 << 20 }).catch(
    (err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build:bundle failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`, { cause: err });
    },
  );
  mark("bundle");
  const images = await buildNodeImages({ outDir: join(dir, "images"), bundle });
  mark("images");
  const cluster = await startNodeCluster({ dir, images: Object.values(images).map((i) => i.archive) });
  mark("node ready");
  const kc = cluster.controlPlane.kubeConfig();
  const helmHome = join(dir, "helm");
  const env: VeltrixOnNode = {
    cluster,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    helmHome,
    timings,
    images,
    bundle,
    async kubectl(args) {
      const { stdout } = await run(toolPath("kubectl"), [
        "--kubeconfig",
        cluster.controlPlane.kubeconfigPath,
        ...args,
      ]);
      return stdout;
    },
    async helm(args) {
      const { stdout } = await helm(args, {
        home: helmHome,
        kubeconfig: cluster.controlPlane.kubeconfigPath,
      });
      return stdout;
    },
    stop: () => cluster.stop(),
  };
  try {
    await env.helm([
      "install",
      releaseName,
      join(repoRoot, "charts/veltrix"),
      "-n",
      releaseNamespace,
      "--create-namespace",
      "--wait",
      "--timeout",
      "3m",
      "--set",
      "nats.install=true",
      "--set",
      "nats.bundled.persistence=emptyDir",
      ...localImageValues(),
    ]);
    mark("helm install");
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
  return env;
}

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

export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** The demo app (devenv/demo-app.ts, its image built here) as an app team would deploy it. */
export function demoDeployment(name: string, config: string, replicas = 1): object {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          annotations: { "veltrix.io/config": config, "veltrix.io/app-port": "8080" },
        },
        spec: {
          containers: [
            {
              name: "app",
              image: imageReference("demo-app"),
              imagePullPolicy: "Never",
              // Listening on the pod's address too, so the kubelet can probe it: the pod is
              // Ready only once the app answers, as an app team would deploy it.
              args: ["demo-app.ts", "8080", "http://127.0.0.1:15090", "0.0.0.0"],
              ports: [{ name: "http", containerPort: 8080 }],
              readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 1 },
              securityContext: {
                runAsNonRoot: true,
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
              },
            },
          ],
        },
      },
    },
  };
}

/** A Service in front of the sidecar's proxy port: what clients of the app call. */
export function demoService(name: string): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: 15080 }] },
  };
}

/** Polls `check` every 250 ms until it returns a value, or fails naming `what` and the last error. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(
    `${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ""}`,
  );
}
