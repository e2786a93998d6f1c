// Wrong values fail at render/install time with a message that names the value and the rule
// (values.schema.json, plus the template checks the schema cannot express).
import { describe, expect, it } from "vitest";
import { renderError } from "./chart.ts";

const cases: { set: string[]; message: string | RegExp }[] = [
  {
    set: ["webhook.failurePolicy=Sometimes"],
    message: "at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'",
  },
  { set: ["webhook.timeoutSeconds=60"], message: "at '/webhook/timeoutSeconds': maximum: got 60, want 30" },
  { set: ["operator.replicas=0"], message: "at '/operator/replicas': minimum: got 0, want 1" },
  { set: ["operator.replicaz=2"], message: "at '/operator': additional properties 'replicaz' not allowed" },
  {
    set: ["operator.logLevel=verbose"],
    message: "at '/operator/logLevel': value must be one of 'debug', 'info', 'warn', 'error'",
  },
  { set: ["operator.webhookPort=443"], message: "at '/operator/webhookPort': minimum: got 443, want 1,024" },
  {
    set: ["nats.url=http://nats:4222"],
    message: /at '\/nats\/url': 'http:\/\/nats:4222' does not match pattern/,
  },
  {
    set: ["webhook.certificates.mode=vault"],
    message: "at '/webhook/certificates/mode': value must be one of 'selfManaged', 'certManager'",
  },
  {
    set: ["webhook.excludedNamespaces[0]=Not_A_Namespace"],
    message: /at '\/webhook\/excludedNamespaces\/0': 'Not_A_Namespace' does not match pattern/,
  },
  {
    set: ["sidecar.resources.limits.memory=lots"],
    message: /at '\/sidecar\/resources\/limits\/memory': 'lots' does not match pattern/,
  },
  {
    set: ["operator.image.digest=latest"],
    message: /at '\/operator\/image\/digest': 'latest' does not match pattern/,
  },
  {
    set: ["nats.bundled.storage=1GB"],
    message: /at '\/nats\/bundled\/storage': '1GB' does not match pattern/,
  },
  // Template checks.
  {
    set: ["operator.leaderElection.enabled=false"],
    message: "operator.leaderElection.enabled must be true when operator.replicas > 1",
  },
  { set: ["nats.url="], message: "nats.url is required when nats.install is false" },
];

describe("values that break the rules fail with a clear message", () => {
  for (const { set, message } of cases) {
    it(`rejects ${set.join(" ")}`, async () => {
      const error = await renderError({ set });
      if (typeof message === "string") expect(error).toContain(message);
      else expect(error).toMatch(message);
    });
  }

  it("refuses clusters older than Kubernetes 1.29 (native sidecars)", async () => {
    const error = await renderError({ extra: ["--kube-version", "1.28.9"] });
    expect(error).toContain(
      "chart requires kubeVersion: >=1.29.0-0 which is incompatible with Kubernetes v1.28.9",
    );
  });

  it("accepts the same keys with valid values", async () => {
    await expect(
      renderError({
        set: ["webhook.failurePolicy=Ignore", "webhook.timeoutSeconds=30", "operator.replicas=1"],
      }),
    ).rejects.toThrow("helm template succeeded");
  });
});
