// Certificate rotation under load: serving certificates that live twelve seconds
// are renewed at two thirds of their life while the API server keeps sending pods,
// until two renewals have happened (counted, not timed).
import { connect } from "node:tls";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createVeltrixConfig } from "../../../devenv/veltrixconfig-client.ts";
import { createNamespace, kubeConfig } from "../../harness/env.ts";
import { startTestWebhook, type TestWebhook } from "./webhook-env.ts";

function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on("error", reject);
  });
}

describe("webhook certificate rotation", () => {
  let webhook: TestWebhook;

  beforeAll(async () => {
    webhook = await startTestWebhook({ servingValidityMs: 12_000, checkIntervalMs: 250 });
  });
  afterAll(async () => {
    await webhook.close();
  });

  it("rotates the serving certificate while the API server keeps calling", async () => {
    const kc = kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const namespace = await createNamespace("vx-rotate", webhook.selector);
    await createVeltrixConfig(kc, namespace, "default", {});
    const first = await servedSerial(webhook.server.port);
    const serials = new Set<string>([first]);
    const deliveredAtStart = webhook.certificatesDelivered();
    const renewals = (): number => webhook.certificatesDelivered() - deliveredAtStart;
    // Pods keep coming until two renewals have happened (each serving certificate lives
    // 12 s and is renewed after 8 s); the deadline only turns a rotation that never
    // comes into a failure.
    const deadline = Date.now() + 100_000;
    let created = 0;
    while (renewals() < 2) {
      if (Date.now() > deadline) throw new Error(`${renewals()} renewals after ${created} pods; want 2`);
      const p = await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { generateName: "rot-", annotations: { "veltrix.io/inject": "true" } },
          spec: {
            containers: [{ name: "web", image: "registry.example/web:1", ports: [{ containerPort: 8080 }] }],
          },
        },
      });
      expect(p.spec?.initContainers?.some((c) => c.name === "veltrix-sidecar")).toBe(true);
      created++;
      serials.add(await servedSerial(webhook.server.port));
    }
    // The server serves the renewed certificate, and served them in turn while pods came.
    const last = await servedSerial(webhook.server.port);
    serials.add(last);
    expect(last).not.toBe(first);
    expect(serials.size).toBeGreaterThanOrEqual(2);
    // ...and every pod created meanwhile was injected (checked on each above).
    expect(created).toBeGreaterThan(0);
  });
});
