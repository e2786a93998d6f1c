// Proves the API server can call an admission webhook by URL on loopback over TLS,
// which every webhook test later relies on.
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServingCertificate } from "../../operator/certs/issue.ts";
import { createNamespace, kubeConfig } from "../harness/env.ts";

describe("API server → admission webhook over TLS on loopback", () => {
  const server = createServer();
  let caPem = "";
  let calls = 0;

  beforeAll(async () => {
    const ca = await createCertificateAuthority("smoke-ca", 1);
    const serving = await issueServingCertificate(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] }, 1);
    caPem = ca.certPem;
    server.setSecureContext({ cert: serving.certPem, key: serving.keyPem });
    server.on("request", (req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        calls++;
        const review = JSON.parse(body) as { request: { uid: string } };
        const patch = [{ op: "add", path: "/metadata/labels", value: { "smoke-webhook": "called" } }];
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            apiVersion: "admission.k8s.io/v1",
            kind: "AdmissionReview",
            response: {
              uid: review.request.uid,
              allowed: true,
              patchType: "JSONPatch",
              patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
            },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });

  afterAll(() => {
    server.close();
  });

  it("mutates a ConfigMap through a webhook registered by URL with a caBundle", async () => {
    const kc = kubeConfig();
    const namespace = await createNamespace("smoke-webhook");
    const port = (server.address() as AddressInfo).port;
    const name = `smoke-${namespace}.veltrix.test`;
    await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [
          {
            name,
            admissionReviewVersions: ["v1"],
            sideEffects: "None",
            failurePolicy: "Fail",
            clientConfig: {
              url: `https://127.0.0.1:${port}/mutate`,
              caBundle: Buffer.from(caPem).toString("base64"),
            },
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
            rules: [
              { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] },
            ],
          },
        ],
      },
    });
    try {
      const cm = await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: "patched" }, data: { a: "b" } },
      });
      expect(cm.metadata?.labels).toEqual({ "smoke-webhook": "called" });
      expect(calls).toBeGreaterThan(0);
    } finally {
      await kc.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name });
    }
  });
});
