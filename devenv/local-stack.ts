// The local stack behind scripts/local-up.sh, with Veltrix's embedded defaults:
//   real etcd, kube-apiserver, kube-controller-manager and nats-server on loopback;
//   the CRD; the operator (reconciling, leader election off); the sample VeltrixConfig
//   crds/samples/minimal.yaml in namespace default; a demo app with the sidecar in
//   front of it, booting its config from the operator's NATS KV entry.
// There is no kubelet, so pods never run here: the sidecar runs as a process beside
// the demo app, which is what injection would give a pod. --check verifies the whole
// path (a request through the sidecar carries the operator's revision) and exits.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  CustomObjectsApi,
  KubernetesObjectApi,
  VersionApi,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { installCrd } from "./crd.ts";
import { startControlPlane } from "./control-plane.ts";
import { startNats } from "./nats.ts";
import { freePort } from "./ports.ts";
import { ManagedProcess } from "./process.ts";
import { repoRoot } from "./tools.ts";
import { sidecarNodeFlags } from "../sidecar/node-flags.ts";

const { values } = parseArgs({
  options: {
    check: { type: "boolean", default: false },
    dir: { type: "string", default: join(repoRoot, ".tmp", "local") },
  },
});

const dir = values.dir;
const sampleName = "minimal";
const sampleNamespace = "default";

function yamlDocuments(file: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(join(repoRoot, file), "utf8"))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((d): d is KubernetesObject => d !== null);
}

/** The default port when free (a person's run), any free port otherwise (tests, a second stack). */
async function portOr(preferred: number): Promise<number> {
  if (values.check) return freePort();
  const probe = await import("node:net");
  const free = await new Promise<boolean>((resolve) => {
    const srv = probe.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(preferred, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url);
  return res.ok;
}

function node(name: string, args: string[]): ManagedProcess {
  return new ManagedProcess({
    name,
    command: process.execPath,
    args,
    logFile: join(dir, `${name}.log`),
    cwd: repoRoot,
  });
}

const started = Date.now();
/** One progress line a step, with the seconds since start. */
function step(what: string): void {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${what}`);
}

rmSync(dir, { recursive: true, force: true });
step("starting nats-server (JetStream)");
const nats = await startNats({ dir });
step("starting etcd, kube-apiserver and kube-controller-manager");
const controlPlane = await startControlPlane({ dir });
const processes: ManagedProcess[] = [];

async function shutdown(code: number): Promise<never> {
  for (const p of [...processes].reverse()) await p.stop();
  await controlPlane.stop();
  await nats.stop();
  process.exit(code);
}

try {
  const kc = controlPlane.kubeConfig();
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const version = await kc.makeApiClient(VersionApi).getCode();
  step("installing the VeltrixConfig CRD");
  await installCrd(kc);

  const operatorPort = await freePort();
  const operator = node("operator", [
    "operator/main.ts",
    `--kubeconfig=${controlPlane.kubeconfigPath}`,
    `--nats-url=${nats.url}`,
    "--leader-elect=false",
    "--http-host=127.0.0.1",
    `--http-port=${operatorPort}`,
    // Injection needs pods that run, and nothing runs pods here.
    "--webhook-cert-mode=disabled",
  ]);
  processes.push(operator);
  step("starting the operator");
  operator.start();
  await operator.waitUntil("ready", () => httpOk(`http://127.0.0.1:${operatorPort}/readyz`));

  step(`applying crds/samples/${sampleName}.yaml, waiting for Ready`);
  for (const doc of yamlDocuments(`crds/samples/${sampleName}.yaml`)) {
    await objects.create({ ...doc, metadata: { ...doc.metadata, namespace: sampleNamespace } });
  }
  const custom = kc.makeApiClient(CustomObjectsApi);
  let revision = "";
  await operator.waitUntil(
    `VeltrixConfig ${sampleNamespace}/${sampleName} Ready`,
    async () => {
      const vxc = (await custom.getNamespacedCustomObject({
        group: "veltrix.io",
        version: "v1alpha1",
        namespace: sampleNamespace,
        plural: "veltrixconfigs",
        name: sampleName,
      })) as { status?: { revision?: string; conditions?: { type: string; status: string }[] } };
      revision = vxc.status?.revision ?? "";
      return vxc.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    },
    60_000,
  );

  const [appPort, proxyPort, adminPort] = [await freePort(), await portOr(15080), await portOr(15090)];
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const app = node("demo-app", ["devenv/demo-app.ts", String(appPort), adminUrl]);
  processes.push(app);
  step("starting the demo app and its sidecar");
  app.start();
  await app.waitUntil("listening", () => httpOk(`http://127.0.0.1:${appPort}/`));

  const sidecar = node("sidecar", [
    ...sidecarNodeFlags,
    "sidecar/main.ts",
    `--nats-url=${nats.url}`,
    `--namespace=${sampleNamespace}`,
    `--name=${sampleName}`,
    `--app-port=${appPort}`,
    "--host=127.0.0.1",
    `--port=${proxyPort}`,
    `--admin-port=${adminPort}`,
    `--data-dir=${join(dir, "sidecar-data")}`,
    `--render-file=${join(dir, "sidecar-data", "config.json")}`,
    "--pod=local",
  ]);
  processes.push(sidecar);
  sidecar.start();
  await sidecar.waitUntil("ready", () => httpOk(`${adminUrl}/readyz`), 60_000);

  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const res = await fetch(`${proxyUrl}/hello`);
  const answer = (await res.json()) as { configRevision: string | null; requestId: string | null };
  if (res.status !== 200 || answer.configRevision !== revision || !answer.requestId) {
    throw new Error(
      `a request through the sidecar did not reach the app with the operator's revision ${revision}: ` +
        `HTTP ${res.status} ${JSON.stringify(answer)}`,
    );
  }

  console.log(
    [
      "",
      `Veltrix local stack is up (${((Date.now() - started) / 1000).toFixed(1)} s).`,
      `  Kubernetes API   ${controlPlane.server}  (${version.gitVersion})`,
      `  NATS JetStream   ${nats.url}`,
      `  operator         http://127.0.0.1:${operatorPort}/metrics  (log: ${operator.spec.logFile})`,
      `  VeltrixConfig    ${sampleNamespace}/${sampleName}  Ready, revision ${revision}`,
      `  sidecar proxy    ${proxyUrl}  → demo app 127.0.0.1:${appPort}`,
      `  sidecar admin    ${adminUrl}  (/v1/config, /v1/requests/<id>, /metrics)`,
      `  logs and data    ${dir}`,
      "",
      `  export KUBECONFIG=${controlPlane.kubeconfigPath}`,
      `  curl ${proxyUrl}/hello`,
      `  curl ${adminUrl}/v1/requests/${answer.requestId}`,
      `  kubectl get vxc -A`,
      `  npx veltrix status --nats-url ${nats.url}`,
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
