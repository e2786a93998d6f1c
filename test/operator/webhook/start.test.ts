// startWebhook as main.ts calls it, in cert-manager mode: the mounted certificate is
// served and hot-reloaded, and the chart's sidecar defaults file shapes the injection.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import { createVeltrixConfig } from "../../../devenv/veltrixconfig-client.ts";
import { installCrd } from "../../../devenv/crd.ts";
import { createCertificateAuthority, issueServingCertificate } from "../../../operator/certs/issue.ts";
import type { RunningWebhook } from "../../../operator/webhook/start.ts";
import { postReview } from "../../../devenv/admission-review.ts";
import { startMountedCertWebhook } from "./webhook-env.ts";
import { createNamespace, eventually, kubeConfig, tempDir } from "../../harness/env.ts";
import { podAdmissionReview } from "../../../devenv/admission-review.ts";

describe("startWebhook (cert-manager mode)", () => {
  let running: RunningWebhook | undefined;
  afterAll(async () => {
    await running?.stop();
  });

  it("serves the mounted certificate, reloads it, and injects with the chart's defaults", async () => {
    const kc = kubeConfig();
    await installCrd(kc);
    const namespace = await createNamespace("vx-start");
    await createVeltrixConfig(kc, namespace, "default", {});
    const dir = tempDir("vx-start");
    const ca = await createCertificateAuthority("cm-ca", 1);
    const first = await issueServingCertificate(ca, { dnsNames: ["localhost"] }, 1);
    writeFileSync(join(dir, "tls.crt"), first.certPem);
    writeFileSync(join(dir, "tls.key"), first.keyPem);
    const defaultsFile = join(dir, "defaults.json");
    writeFileSync(
      defaultsFile,
      JSON.stringify({
        image: "registry.example/veltrix/sidecar:9.9.9",
        imagePullPolicy: "Always",
        nativeSidecar: false,
        natsUrl: "nats://nats.example:4222",
        natsCredentials: { secretName: "team-nats", key: "creds" },
      }),
    );
    const registry = new Registry();
    running = await startMountedCertWebhook({ kubeConfig: kc, certDir: dir, defaultsFile, registry });
    const port = running!.server.port;
    const review = JSON.stringify(
      podAdmissionReview("start-1", namespace, {
        metadata: { generateName: "web-", labels: { "veltrix.io/inject": "true" } },
        spec: {
          containers: [{ name: "web", image: "web:1", ports: [{ name: "http", containerPort: 8080 }] }],
        },
      }),
    );
    const reply = await postReview(port, ca.certPem, review);
    expect(reply.response).toMatchObject({ uid: "start-1", allowed: true, patchType: "JSONPatch" });
    const patch = JSON.parse(Buffer.from(String(reply.response["patch"]), "base64").toString()) as {
      path: string;
      value: unknown;
    }[];
    // Not native (the defaults file says so): the sidecar replaces the containers list, first.
    const containers = patch.find((op) => op.path === "/spec/containers")?.value as {
      name: string;
      image: string;
      imagePullPolicy: string;
      env: { name: string; value?: string }[];
    }[];
    expect(containers[0]).toMatchObject({
      name: "veltrix-sidecar",
      image: "registry.example/veltrix/sidecar:9.9.9",
      imagePullPolicy: "Always",
    });
    expect(containers[0]?.env).toContainEqual({
      name: "VELTRIX_NATS_URL",
      value: "nats://nats.example:4222",
    });

    // cert-manager renews: the new pair is served without a restart (new CA, so the old one fails).
    const otherCa = await createCertificateAuthority("cm-ca-2", 1);
    const renewed = await issueServingCertificate(otherCa, { dnsNames: ["localhost"] }, 1);
    writeFileSync(join(dir, "tls.crt"), renewed.certPem);
    writeFileSync(join(dir, "tls.key"), renewed.keyPem);
    await eventually(
      "the renewed pair served",
      () =>
        postReview(port, otherCa.certPem, review).then(
          () => true,
          () => undefined,
        ),
      60_000,
    );
    expect(await registry.metrics()).toMatch(/veltrix_webhook_certificate_expiry_timestamp_seconds \d+/);
  });
});
