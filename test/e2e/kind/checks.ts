// The node suite's checks of the demo app (test/node/demo-checks.ts), run on a kind cluster by
// run.sh once the chart is installed: the same deployment (devenv/node/veltrix.ts, deployDemo)
// and the same assertions as test/node/install.test.ts, reaching the demo's Service through
// `kubectl port-forward` instead of the node's forwarder.
//   node test/e2e/kind/checks.ts --kubeconfig FILE --demo-image IMAGE [--namespace NS]
// Exit status: 0 passed, 1 a check failed (the message names it).
import { type ChildProcess, spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { eventually } from "../../../devenv/eventually.ts";
import { deployDemo } from "../../../devenv/node/veltrix.ts";
import { toolPath } from "../../../devenv/tools.ts";
import { checkAnswers, checkConfigChange, checkInSync, checkNativeSidecar } from "../../node/demo-checks.ts";

const { values } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    "demo-image": { type: "string" },
    namespace: { type: "string", default: "veltrix-e2e-app" },
  },
});
const kubeconfig = values.kubeconfig;
const image = values["demo-image"];
if (!kubeconfig || !image) {
  console.error("usage: checks.ts --kubeconfig FILE --demo-image IMAGE [--namespace NS]");
  process.exit(2);
}
const namespace = values.namespace;
const name = "demo";
const say = (what: string): void => console.log(`kind-e2e: ${what}`);

/** kubectl from PATH (kind machines), else the one the set-up provisioned. */
function kubectl(): string {
  try {
    return toolPath("kubectl");
  } catch {
    return "kubectl";
  }
}

const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
let forward: ChildProcess | undefined;
try {
  say("deploying the demo app (namespace labelled for injection, VeltrixConfig, Deployment, Service)");
  const { pod, revision } = await deployDemo(kc, {
    namespace,
    name,
    spec: { config: { greeting: "hello from kind" }, queue: { mode: "sync", maxConcurrency: 4 } },
    image,
  });
  checkNativeSidecar(pod);
  say(`injection ok: ${pod.metadata?.name} runs the native sidecar, Ready`);
  // The Service exists now: forward a loopback port to it (kubectl picks the port and prints it).
  forward = spawn(
    kubectl(),
    ["--kubeconfig", kubeconfig, "-n", namespace, "port-forward", `svc/${name}`, ":80"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let printed = "";
  forward.stdout?.on("data", (b: Buffer) => (printed += b.toString()));
  forward.stderr?.on("data", (b: Buffer) => (printed += b.toString()));
  const port = await eventually(
    "kubectl port-forward to print its port",
    () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(printed)?.[1],
  );
  const url = `http://127.0.0.1:${port}`;
  await checkAnswers(url, revision, "kind");
  say(`requests ok: answered through the sidecar in sync mode with revision ${revision}`);
  await checkInSync(kc, namespace, name, "1/1");
  const change = await checkConfigChange(kc, namespace, name, url, { greeting: "changed on kind" });
  say(`config change ok: revision ${change.revision} reached the pod ${change.ms} ms after it was published`);
  say("PASSED");
} catch (err) {
  say(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  forward?.kill();
}
