// scripts/local-up.sh where this machine can run a node (root, overlayfs, the node's packages
// and binaries: devenv/node/cluster.ts): Veltrix as users meet it. The bundle and images are
// built here, a real single-node cluster starts in a network namespace of its own, the chart is
// installed with helm (bundled NATS on an emptyDir: the node has no StorageClass), and the demo
// app is deployed in namespace demo with crds/samples/minimal.yaml's spec, injected with the
// native sidecar. Its Service is forwarded to a loopback port here, so the printed curl lines
// reach the app through the sidecar in its pod. --check verifies that path and stops.
//   node devenv/local-node.ts [--check] [--dir DIR]
//   node devenv/local-node.ts --probe     exit 0 when this machine can run the node, else 3,
//                                         printing what it lacks (one line each)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import type { VeltrixConfigSpec } from "../api/types.generated.ts";
import { nodePrerequisites } from "./node/cluster.ts";
import {
  deployDemo,
  releaseName,
  releaseNamespace,
  startVeltrixOnNode,
  type VeltrixOnNode,
} from "./node/veltrix.ts";
import { repoRoot } from "./tools.ts";

const { values } = parseArgs({
  options: {
    check: { type: "boolean", default: false },
    probe: { type: "boolean", default: false },
    dir: { type: "string", default: join(repoRoot, ".tmp", "local-node") },
  },
});

if (values.probe) {
  const missing = await nodePrerequisites();
  for (const m of missing) console.log(m);
  process.exit(missing.length === 0 ? 0 : 3);
}

const started = Date.now();
function step(what: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${what}`);
}

interface DemoAnswer {
  requestId: string | null;
  configRevision: string | null;
}

const namespace = "demo";
const name = "demo";
let env: VeltrixOnNode | undefined;
let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    step("stopping the node");
    await env?.stop();
  }
  process.exit(code);
}

try {
  step("building the bundle and images, starting the node, helm install (a few minutes on a first run)");
  env = await startVeltrixOnNode(values.dir);
  step(`helm release ${releaseName} installed in ${releaseNamespace}; deploying the demo app`);
  const sample = parse(readFileSync(join(repoRoot, "crds/samples/minimal.yaml"), "utf8")) as {
    spec: VeltrixConfigSpec;
  };
  const { pod, revision } = await deployDemo(env.kc, { namespace, name, spec: sample.spec });
  const service = await env.core.readNamespacedService({ name, namespace });
  const clusterIp = service.spec?.clusterIP ?? "";
  const port = await env.cluster.expose(`${name}.${namespace}.svc.cluster.local`, 80);
  const url = `http://127.0.0.1:${port}`;
  const res = await fetch(`${url}/hello`);
  const answer = (await res.json()) as DemoAnswer;
  if (res.status !== 200 || answer.configRevision !== revision || !answer.requestId) {
    throw new Error(
      `a request through the sidecar did not reach the app with the operator's revision ${revision}: ` +
        `HTTP ${res.status} ${JSON.stringify(answer)}`,
    );
  }
  const kubeconfig = env.cluster.controlPlane.kubeconfigPath;
  const netns = env.cluster.namespace.name;
  console.log(
    [
      "",
      `Veltrix is up on a real node (${((Date.now() - started) / 1000).toFixed(1)} s): installed by helm, the demo app injected.`,
      `  node             ${env.cluster.nodeName}, in network namespace ${netns} (nothing on this machine's network)`,
      `  helm release     ${releaseName} in ${releaseNamespace} (operator x2, webhook, bundled NATS on an emptyDir)`,
      `  VeltrixConfig    ${namespace}/${name} (crds/samples/minimal.yaml's spec) Ready, revision ${revision}`,
      `  demo pod         ${pod.metadata?.name}: app + native sidecar veltrix-sidecar`,
      `  Service          ${name}.${namespace} ${clusterIp}:80 -> the sidecar :15080 -> the app :8080`,
      `                   forwarded here to ${url} while this runs`,
      `  logs and data    ${values.dir}`,
      "",
      `  export KUBECONFIG=${kubeconfig}`,
      `  curl ${url}/hello`,
      `  sudo ip netns exec ${netns} curl http://${clusterIp}/hello      # from inside the node's network`,
      `  kubectl -n ${namespace} get pods,vxc`,
      `  kubectl -n ${releaseNamespace} get pods`,
    ].join("\n"),
  );
} catch (err) {
  console.error("veltrix: the node failed to come up:", err);
  console.error(
    "veltrix: VELTRIX_LOCAL=stack scripts/local-up.sh runs the local stack without a node instead",
  );
  await shutdown(1);
}

if (values.check) {
  console.log("local node check passed");
  await shutdown(0);
}
console.log("Press Ctrl-C to stop.");
process.once("SIGINT", () => void shutdown(0));
process.once("SIGTERM", () => void shutdown(0));
