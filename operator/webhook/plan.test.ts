import { describe, expect, it } from "vitest";
import { injectionConfigFrom, injectionFeaturesFor } from "./config-input.ts";
import { goldenConfig, goldenOptions } from "./testdata/fixtures.ts";
import { planInjection, precheck } from "./plan.ts";
import type { NamespaceInfo, Pod } from "./pod.ts";
import { skipReasons } from "./skip-reasons.ts";

const ns = (labels: Record<string, string> = {}, name = "shop"): NamespaceInfo => ({
  name,
  labels,
  annotations: {},
});
const pod = (annotations: Record<string, string>, labels: Record<string, string> = {}): Pod => ({
  metadata: { annotations, labels },
  spec: { containers: [{ name: "app", image: "app:1", ports: [{ name: "http", containerPort: 8080 }] }] },
});

describe("planInjection", () => {
  it("never injects into system namespaces", () => {
    const plan = planInjection(
      pod({ "veltrix.io/inject": "true" }),
      ns({}, "kube-system"),
      goldenConfig,
      goldenOptions,
    );
    expect(plan).toEqual({
      kind: "skip",
      reason: "system-namespace",
      message: skipReasons["system-namespace"].message,
      warnings: [
        `veltrix: not injected: ${skipReasons["system-namespace"].message}; ${skipReasons["system-namespace"].fix}`,
      ],
    });
  });

  it("accepts the pod label as opt-in and refuses a bad label value", () => {
    expect(
      planInjection(pod({}, { "veltrix.io/inject": "true" }), ns(), goldenConfig, goldenOptions).kind,
    ).toBe("inject");
    const plan = planInjection(pod({}, { "veltrix.io/inject": "yes" }), ns(), goldenConfig, goldenOptions);
    expect(plan).toMatchObject({
      kind: "refuse",
      problems: [`invalid value 'yes' for label 'veltrix.io/inject': must be "true" or "false"`],
    });
  });

  it("names the default config when the pod names none", () => {
    expect(precheck(pod({ "veltrix.io/inject": "true" }), ns())).toEqual({
      kind: "proceed",
      configName: "default",
    });
  });

  it("refuses with every problem in one message", () => {
    const plan = planInjection(
      pod({ "veltrix.io/inject": "true", "veltrix.io/drain-seconds": "soon" }),
      ns(),
      undefined,
      goldenOptions,
    );
    expect(plan.kind).toBe("refuse");
    if (plan.kind === "refuse") {
      expect(plan.message).toBe(
        "Veltrix cannot inject this pod: invalid value 'soon' for annotation 'veltrix.io/drain-seconds': must be whole seconds from 0 to 3600; VeltrixConfig 'default' does not exist in namespace 'shop'",
      );
    }
  });

  it("gives the same patch for the same pod (pure)", () => {
    const p = pod({ "veltrix.io/inject": "true" });
    expect(planInjection(p, ns(), goldenConfig, goldenOptions)).toEqual(
      planInjection(p, ns(), goldenConfig, goldenOptions),
    );
  });
});

describe("config input", () => {
  it("reads a VeltrixConfig as the API returns it", () => {
    const config = injectionConfigFrom(
      {
        metadata: { name: "web", generation: 3 },
        spec: {
          sidecar: { ports: { proxy: 15080, admin: 15091 }, resources: { requests: { cpu: "100m" } } },
          store: { sizeLimit: "4Gi", volume: { kind: "ephemeral", storageClassName: "ssd" } },
        },
        status: { revision: "abc123" },
      },
      { image: "ghcr.io/veltrix/sidecar:dev", resources: { requests: { cpu: "1" } } },
    );
    expect(config).toEqual({
      name: "web",
      revision: "abc123",
      sidecar: {
        image: "ghcr.io/veltrix/sidecar:dev",
        resources: { requests: { cpu: "100m" } },
        ports: { proxy: 15080, admin: 15091 },
      },
      store: { sizeLimit: "4Gi", volume: { kind: "ephemeral", storageClassName: "ssd" } },
    });
  });

  it("reads a False Ready condition, and only a False one", () => {
    const withReady = (status: string) =>
      injectionConfigFrom(
        {
          metadata: { name: "web" },
          status: {
            conditions: [
              { type: "StreamReady", status: "False", reason: "NatsUnavailable", message: "x" },
              { type: "Ready", status, reason: "NatsUnavailable", message: "nats://nats:4222: timeout" },
            ],
          },
        },
        { image: "ghcr.io/veltrix/sidecar:dev" },
      ).notReady;
    expect(withReady("False")).toEqual({ reason: "NatsUnavailable", message: "nats://nats:4222: timeout" });
    expect(withReady("True")).toBeUndefined();
    expect(withReady("Unknown")).toBeUndefined();
  });

  it("turns on native sidecars and preStop sleep by server version", () => {
    expect(injectionFeaturesFor("v1.35.4")).toEqual({ nativeSidecars: true, preStopSleep: true });
    expect(injectionFeaturesFor("v1.29.0")).toEqual({ nativeSidecars: true, preStopSleep: false });
    expect(injectionFeaturesFor("v1.28.9-eks-1")).toEqual({ nativeSidecars: false, preStopSleep: false });
  });
});
