// The operator's flag defaults name what the chart installs for release `veltrix`, so an
// operator started without the chart's env (or an env the chart forgot) still serves the
// chart's webhook configuration, Service and Secret; and the chart's env names what it
// renders for any release. Real helm renders the chart.
import type { V1Deployment, V1MutatingWebhookConfiguration, V1Service } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { webhookConfigName, webhookFlags } from "../../operator/webhook/start.ts";
import { envOf, find, renderChart } from "./chart.ts";

const flagDefault = (flag: (typeof webhookFlags)[number]["flag"]): string =>
  webhookFlags.find((f) => f.flag === flag)!.default;

describe("operator flag defaults and the chart", () => {
  it("name the chart's objects for release veltrix when the env is unset", async () => {
    const namespace = "veltrix-system";
    const manifests = await renderChart({ release: "veltrix", namespace });
    const config = find<V1MutatingWebhookConfiguration>(manifests, "MutatingWebhookConfiguration");
    expect(webhookConfigName(flagDefault("webhook-config-name"), namespace)).toBe(config.metadata?.name);
    expect(config.metadata?.name).toBe("veltrix-veltrix-system");
    const service = config.webhooks?.[0]?.clientConfig.service?.name;
    expect(flagDefault("webhook-service")).toBe(service);
    expect(find<V1Service>(manifests, "Service", service).metadata?.name).toBe(service);
    const deployment = find<V1Deployment>(manifests, "Deployment", "veltrix");
    const env = envOf(deployment.spec?.template.spec?.containers[0]);
    // The self-managed Secret is written by the operator, not rendered: the env names it.
    expect(flagDefault("webhook-secret")).toBe(env["VELTRIX_WEBHOOK_SECRET"]);
    expect(env["VELTRIX_WEBHOOK_CONFIG_NAME"]).toBe(config.metadata?.name);
  });

  it("pass the rendered names through the env for any release and namespace", async () => {
    const manifests = await renderChart({ release: "payments", namespace: "platform" });
    const config = find<V1MutatingWebhookConfiguration>(manifests, "MutatingWebhookConfiguration");
    const deployment = manifests.find(
      (m) => m.kind === "Deployment" && m.metadata.name.startsWith("payments"),
    );
    const env = envOf((deployment as unknown as V1Deployment).spec?.template.spec?.containers[0]);
    expect(config.metadata?.name).toBe("payments-veltrix-platform");
    expect(webhookConfigName(env["VELTRIX_WEBHOOK_CONFIG_NAME"] ?? "", "platform")).toBe(
      config.metadata?.name,
    );
    expect(env["VELTRIX_WEBHOOK_SERVICE"]).toBe(config.webhooks?.[0]?.clientConfig.service?.name);
  });
});
