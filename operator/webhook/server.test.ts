// The HTTPS shell on port 0 with a real TLS handshake; lookups passed in.
import { request } from "node:https";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { goldenConfig, goldenOptions } from "./testdata/fixtures.ts";
import { createCertificateAuthority, issueServingCertificate } from "../certs/issue.ts";
import type { Lookups } from "./admit.ts";
import { createWebhookMetrics } from "./metrics.ts";
import { admissionPath, startWebhookServer, type WebhookServer } from "./server.ts";
import { podAdmissionReview } from "../../devenv/admission-review.ts";

interface Reply {
  status: number;
  json: { apiVersion?: string; kind?: string; response?: Record<string, unknown> };
}

const lookups: Lookups = {
  namespace: (name) => Promise.resolve({ name, labels: {}, annotations: {} }),
  config: (_ns, name) => Promise.resolve(name === goldenConfig.name ? goldenConfig : undefined),
};

function podReview(uid: string, annotations: Record<string, string>): string {
  return JSON.stringify(
    podAdmissionReview(uid, "shop", {
      metadata: { generateName: "web-", annotations },
      spec: {
        containers: [{ name: "web", image: "web:1", ports: [{ name: "http", containerPort: 8080 }] }],
      },
    }),
  );
}

describe("webhook HTTPS server", () => {
  let server: WebhookServer;
  let ca = "";
  const registry = new Registry();

  const post = (
    body: string | Buffer,
    headers: Record<string, string> = { "content-type": "application/json" },
    method = "POST",
    path = admissionPath,
  ): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: server.port, path, method, ca, headers, servername: "localhost" },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Reply["json"]) : {} }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  beforeAll(async () => {
    const authority = await createCertificateAuthority("test-ca", 1);
    const serving = await issueServingCertificate(
      authority,
      { dnsNames: ["localhost"], ips: ["127.0.0.1"] },
      1,
    );
    ca = authority.certPem;
    server = await startWebhookServer({
      host: "127.0.0.1",
      port: 0,
      certificate: serving,
      lookups,
      injection: goldenOptions,
      metrics: createWebhookMetrics(registry),
    });
  });

  afterAll(() => server.close());

  it("injects an annotated pod and echoes the uid", async () => {
    const reply = await post(
      podReview("uid-1", { "veltrix.io/inject": "true", "veltrix.io/config": "web-config" }),
    );
    expect(reply.status).toBe(200);
    expect(reply.json.apiVersion).toBe("admission.k8s.io/v1");
    expect(reply.json.response).toMatchObject({ uid: "uid-1", allowed: true, patchType: "JSONPatch" });
    const patch = JSON.parse(Buffer.from(String(reply.json.response?.["patch"]), "base64").toString()) as {
      path: string;
    }[];
    expect(patch.map((op) => op.path)).toContain("/spec/initContainers");
  });

  it("refuses a pod naming a missing config with the message", async () => {
    const reply = await post(
      podReview("uid-2", { "veltrix.io/inject": "true", "veltrix.io/config": "gone" }),
    );
    expect(reply.status).toBe(200);
    expect(reply.json.response).toMatchObject({
      uid: "uid-2",
      allowed: false,
      status: {
        code: 403,
        message: expect.stringContaining("VeltrixConfig 'gone' does not exist") as unknown,
      },
    });
  });

  it("allows a pod that does not opt in, without a patch", async () => {
    const reply = await post(podReview("uid-3", {}));
    expect(reply.json.response).toEqual({ uid: "uid-3", allowed: true });
  });

  const bad: [string, () => Promise<Reply>, number, string][] = [
    ["an empty body", () => post(""), 400, "empty body"],
    ["a wrong content type", () => post("{}", { "content-type": "text/plain" }), 415, "content type"],
    ["invalid JSON", () => post("{not json"), 400, "not JSON"],
    [
      "a review without request",
      () => post(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" })),
      400,
      "no request",
    ],
    ["a wrong method", () => post("", {}, "GET"), 405, "POST"],
    [
      "an unknown path",
      () => post("{}", { "content-type": "application/json" }, "POST", "/other"),
      404,
      "not found",
    ],
    ["an oversized body", () => post(Buffer.alloc(8 * 1024 * 1024, 0x20)), 413, "larger than"],
  ];
  for (const [what, send, status, message] of bad) {
    it(`answers ${status} to ${what} and stays up`, async () => {
      const reply = await send();
      expect(reply.status).toBe(status);
      expect(reply.json.kind).toBe("AdmissionReview");
      expect(reply.json.response).toMatchObject({ uid: "", allowed: false });
      expect(String((reply.json.response?.["status"] as { message: string }).message)).toContain(message);
      const after = await post(podReview("still-up", {}));
      expect(after.json.response).toEqual({ uid: "still-up", allowed: true });
    });
  }

  it("echoes the uid of a review whose object is not a pod", async () => {
    const body = JSON.parse(podReview("uid-4", {})) as { request: { object: unknown } };
    body.request.object = { spec: {} };
    const reply = await post(JSON.stringify(body));
    expect(reply.json.response).toMatchObject({ uid: "uid-4", allowed: false, status: { code: 400 } });
  });

  it("counts admissions by outcome and reason", async () => {
    const count = async (labels: string): Promise<number> => {
      const text = await registry.metrics();
      const line = text.split("\n").find((l) => l.startsWith(`veltrix_webhook_admissions_total{${labels}} `));
      return Number(line?.split(" ")[1] ?? 0);
    };
    const inject = 'outcome="inject",reason=""';
    const skip = 'outcome="skip",reason="not-opted-in"';
    const badRequest = 'outcome="bad-request",reason=""';
    const before = [await count(inject), await count(skip), await count(badRequest)];
    await post(podReview("count-1", { "veltrix.io/inject": "true", "veltrix.io/config": "web-config" }));
    await post(podReview("count-2", {}));
    await post("{not json");
    expect([await count(inject), await count(skip), await count(badRequest)]).toEqual(
      before.map((n) => n + 1),
    );
    expect(await registry.metrics()).toContain("veltrix_webhook_admission_duration_seconds_bucket");
  });
});
