// What "ready" means while NATS is unreachable (docs/operator.md, "Readiness while NATS is
// unreachable"): a real operator process with the webhook on and its own nats-server, which
// the test stops and starts. The operator stays Ready and keeps injecting pods through the
// real API server, while its metric, the VeltrixConfig's Ready condition and a warning on the
// injected pod say NATS is unreachable; when NATS is back, all three say so too.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { installCrd } from "../../../devenv/crd.ts";
import { type NatsServer, startNats } from "../../../devenv/nats.ts";
import { freePort } from "../../../devenv/ports.ts";
import type { ManagedProcess } from "../../../devenv/process.ts";
import { toolPath } from "../../../devenv/tools.ts";
import { createVeltrixConfig } from "../../../devenv/veltrixconfig-client.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { localhostWebhook, operatorProcess } from "../../harness/operator-process.ts";
import { condition, getVxc } from "../helpers.ts";

const run = promisify(execFile);

describe("operator readiness while NATS is unreachable", () => {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const webhookConfigName = `veltrix-natsready-${Date.now()}`;
  let nats: NatsServer;
  let operator: ManagedProcess;
  let httpPort = 0;
  let apps = "";
  let dir = "";
  let webhook: Awaited<ReturnType<typeof localhostWebhook>> | undefined;

  const readyz = async (): Promise<{ status: number; body: string }> => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/readyz`);
    return { status: res.status, body: await res.text() };
  };
  const natsConnected = async (): Promise<number | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const m = /^veltrix_operator_nats_connected (\d+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const readyCondition = async () => condition(await getVxc(apps, "default"), "Ready");
  /** Creates a pod with the real kubectl (or only a server dry run); returns the admission warnings it printed. */
  const createPod = async (name: string, dryRun = false): Promise<string[]> => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, labels: { "veltrix.io/inject": "true" } },
        spec: {
          containers: [{ name: "web", image: "registry.example/web:1", ports: [{ containerPort: 8080 }] }],
        },
      }),
    );
    const { stderr } = await run(
      toolPath("kubectl"),
      ["create", ...(dryRun ? ["--dry-run=server"] : []), "-n", apps, "-f", file],
      {
        env: { PATH: process.env["PATH"], KUBECONFIG: inject("kubeconfigPath"), HOME: dir },
      },
    );
    return stderr
      .split("\n")
      .filter((line) => line.startsWith("Warning: "))
      .map((line) => line.slice("Warning: ".length));
  };
  const injected = async (name: string): Promise<boolean> => {
    const pod = await core.readNamespacedPod({ name, namespace: apps });
    return pod.spec?.initContainers?.some((c) => c.name === "veltrix-sidecar") ?? false;
  };

  beforeAll(async () => {
    await installCrd(kc);
    dir = tempDir("vx-natsready");
    nats = await startNats({ dir: join(dir, "nats") });
    const home = await createNamespace("vx-natsready-home");
    apps = await createNamespace("vx-natsready-apps", { "veltrix.test/webhook": webhookConfigName });
    httpPort = await freePort();
    webhook = await localhostWebhook(kc, webhookConfigName);
    operator = operatorProcess({
      name: "op-natsready",
      logDir: dir,
      namespace: home,
      watchNamespace: apps,
      httpPort,
      natsUrl: nats.url,
      args: ["--leader-elect=false", "--status-refresh=1s", "--max-backoff=1s", ...webhook.args],
    });
    await webhook.register();
    operator.start();
    await operator.waitUntil("ready", async () => (await readyz()).status === 200);
    await createVeltrixConfig(kc, apps, "default", {});
    await eventually("the config Ready", async () =>
      (await readyCondition())?.status === "True" ? true : undefined,
    );
  });

  afterAll(async () => {
    await operator?.stop();
    await nats?.stop();
    await webhook?.unregister();
  });

  it("stays Ready and injects pods while NATS is down; the metric, the config and a warning say why", async () => {
    expect(await natsConnected()).toBe(1);
    expect(await createPod("before")).toEqual([]);
    expect(await injected("before")).toBe(true);

    await nats.stop();
    // The operator saw the outage (the positive control for "readiness did not change").
    await eventually("veltrix_operator_nats_connected 0", async () =>
      (await natsConnected()) === 0 ? true : undefined,
    );
    const down = await eventually("the config Ready=False", async () => {
      const c = await readyCondition();
      return c?.status === "False" && c.reason === "NatsUnavailable" ? c : undefined;
    });
    expect(down.message).toContain(nats.url);
    expect(await readyz()).toEqual({ status: 200, body: "ok\n" });

    // Pod creation goes on, through the real API server and this operator's webhook (which
    // caches a config for up to 4 s: dry runs until it has read the new status).
    const expected = [
      "veltrix: VeltrixConfig 'default' is not Ready (NatsUnavailable): in sync or async mode the sidecar stays unready, taking no traffic, until it reaches NATS; kubectl describe vxc default",
    ];
    await eventually("the webhook seeing the config not Ready", async () =>
      JSON.stringify(await createPod("during", true)) === JSON.stringify(expected) ? true : undefined,
    );
    expect(await createPod("during")).toEqual(expected);
    expect(await injected("during")).toBe(true);
    expect(await readyz()).toEqual({ status: 200, body: "ok\n" });

    await nats.start();
    await eventually("veltrix_operator_nats_connected 1", async () =>
      (await natsConnected()) === 1 ? true : undefined,
    );
    await eventually(
      "the config Ready again",
      async () => ((await readyCondition())?.status === "True" ? true : undefined),
      60_000,
    );
    await eventually("the webhook seeing the config Ready", async () =>
      (await createPod("after", true)).length === 0 ? true : undefined,
    );
    expect(await createPod("after")).toEqual([]);
    expect(await injected("after")).toBe(true);
  });
});
