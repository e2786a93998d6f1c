// The local stack behind scripts/local-up.sh: real etcd, kube-apiserver,
// kube-controller-manager and nats-server on loopback, the CRDs applied, and the
// addresses printed. Started with --check it verifies the stack and exits.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KubernetesObjectApi, VersionApi, type KubernetesObject } from "@kubernetes/client-node";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { parseAllDocuments } from "yaml";
import { startControlPlane } from "../test/harness/control-plane.ts";
import { startNats } from "../test/harness/nats.ts";
import { repoRoot } from "../test/harness/tools.ts";

const { values } = parseArgs({
  options: {
    check: { type: "boolean", default: false },
    dir: { type: "string", default: join(repoRoot, ".tmp", "local") },
  },
});

function crdDocuments(): KubernetesObject[] {
  const dir = join(repoRoot, "crds");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), "utf8"))
      .map((d) => d.toJS() as KubernetesObject | null)
      .filter((d): d is KubernetesObject => d !== null),
  );
}

const dir = values.dir;
rmSync(dir, { recursive: true, force: true });
const nats = await startNats({ dir });
const controlPlane = await startControlPlane({ dir });

async function shutdown(code: number): Promise<never> {
  await controlPlane.stop();
  await nats.stop();
  process.exit(code);
}

try {
  const kc = controlPlane.kubeConfig();
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const version = await kc.makeApiClient(VersionApi).getCode();
  const crds = crdDocuments();
  for (const crd of crds) await objects.create(crd);

  const nc = await connect({ servers: nats.url });
  const js = await jetstreamManager(nc);
  const account = await js.getAccountInfo();
  await nc.close();

  console.log(
    [
      "Veltrix local stack is up.",
      `  Kubernetes API   ${controlPlane.server}  (${version.gitVersion})`,
      `  NATS JetStream   ${nats.url}  (streams: ${account.streams})`,
      `  CRDs applied     ${crds.length}`,
      `  logs and data    ${dir}`,
      "",
      `  export KUBECONFIG=${controlPlane.kubeconfigPath}`,
      `  export VELTRIX_NATS_URL=${nats.url}`,
    ].join("\n"),
  );
} catch (err) {
  console.error("veltrix: local stack failed to come up:", err);
  await shutdown(1);
}

if (values.check) {
  console.log("local stack check passed");
  await shutdown(0);
}
console.log("Press Ctrl-C to stop.");
process.once("SIGINT", () => void shutdown(0));
process.once("SIGTERM", () => void shutdown(0));
