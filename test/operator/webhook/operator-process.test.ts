// Two operator processes (`node operator/main.ts`), as the chart runs them: both serve
// the webhook with self-managed certificates from one Secret they race to create, the
// caBundle gets patched, and the API server's pods are injected through replica A.
import { connect } from "node:tls";
import { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVeltrixConfig } from "../../../devenv/veltrixconfig-client.ts";
import { installCrd } from "../../../devenv/crd.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { freePort } from "../../../devenv/ports.ts";
import type { ManagedProcess } from "../../../devenv/process.ts";
import { operatorProcess } from "../../harness/operator-process.ts";
import { injectionWebhookConfiguration } from "../../../devenv/webhook-config.ts";

interface Replica {
  proc: ManagedProcess;
  httpPort: number;
  webhookPort: number;
}

function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false },
      () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.end();
      },
    );
    socket.on("error", reject);
  });
}

describe("operator processes serve the webhook", () => {
  const kc = kubeConfig();
  const replicas: Replica[] = [];
  let home = "";
  let apps = "";
  const webhookConfigName = `veltrix-op-${Date.now()}`;

  beforeAll(async () => {
    await installCrd(kc);
    home = await createNamespace("vx-op-home");
    apps = await createNamespace("vx-op-apps", { "veltrix.test/webhook": webhookConfigName });
    await createVeltrixConfig(kc, apps, "default", {});
    const dir = tempDir("vx-op");
    for (const name of ["op-a", "op-b"]) {
      const replica = { httpPort: await freePort(), webhookPort: await freePort() };
      const proc = operatorProcess({
        name,
        logDir: dir,
        namespace: home,
        watchNamespace: apps,
        httpPort: replica.httpPort,
        args: [
          `--webhook-port=${replica.webhookPort}`,
          "--webhook-host=127.0.0.1",
          // The certificate names the Service; on loopback the API server calls "localhost".
          "--webhook-service=localhost",
          "--webhook-secret=webhook-tls",
          `--webhook-config-name=${webhookConfigName}`,
        ],
      });
      replicas.push({ ...replica, proc });
    }
    // The chart creates the configuration without a caBundle; the operators patch it in.
    await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
      body: injectionWebhookConfiguration({
        name: webhookConfigName,
        url: `https://localhost:${replicas[0]!.webhookPort}/mutate`,
        namespaceSelector: { "veltrix.test/webhook": webhookConfigName },
        objectSelector: { "veltrix.io/inject": "true" },
      }),
    });
    for (const r of replicas) r.proc.start();
    for (const r of replicas) {
      await r.proc.waitUntil("ready", async () => (await fetch(`http://127.0.0.1:${r.httpPort}/readyz`)).ok);
    }
  });

  afterAll(async () => {
    for (const r of replicas) await r.proc.stop();
    await kc
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteMutatingWebhookConfiguration({ name: webhookConfigName });
  });

  it("shares one certificate, patches the caBundle and injects pods", async () => {
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    await eventually("caBundle patched", async () => {
      const config = await admission.readMutatingWebhookConfiguration({ name: webhookConfigName });
      return config.webhooks?.[0]?.clientConfig.caBundle || undefined;
    });
    const [a, b] = replicas;
    expect(await servedSerial(a!.webhookPort)).toBe(await servedSerial(b!.webhookPort));
    const secret = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: "webhook-tls", namespace: home });
    expect(Object.keys(secret.data ?? {}).sort()).toEqual([
      "ca-bundle.crt",
      "ca.crt",
      "ca.key",
      "tls.crt",
      "tls.key",
    ]);

    const pod = await kc.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace: apps,
      body: {
        metadata: { name: "web", labels: { "veltrix.io/inject": "true" } },
        spec: {
          containers: [
            { name: "web", image: "registry.example/web:1", ports: [{ name: "http", containerPort: 8080 }] },
          ],
        },
      },
    });
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(["veltrix-sidecar"]);
    const metrics = await (await fetch(`http://127.0.0.1:${a!.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^veltrix_webhook_admissions_total\{outcome="inject",reason=""\} 1$/m);
    expect(metrics).toMatch(/^veltrix_webhook_certificate_expiry_timestamp_seconds \d+/m);
  });
});
