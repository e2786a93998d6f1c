// The chart's NATS TLS and credentials defaults reach the injected sidecar: natsInjection
// reads the defaults file, planInjection mounts the CA source and the credentials Secret
// and sets the sidecar's env.
import { describe, expect, it } from "vitest";
import { goldenConfig, goldenOptions } from "./testdata/fixtures.ts";
import { planInjection } from "./plan.ts";
import type { Container, Pod } from "./pod.ts";
import { natsInjection } from "./start.ts";

const pod = (): Pod => ({
  metadata: { annotations: { "veltrix.io/inject": "true", "veltrix.io/config": "web-config" } },
  spec: { containers: [{ name: "app", image: "app:1", ports: [{ name: "http", containerPort: 8080 }] }] },
});

function injected(nats: ReturnType<typeof natsInjection>): { pod: Pod; sidecar: Container } {
  const plan = planInjection(pod(), { name: "shop", labels: {}, annotations: {} }, goldenConfig, {
    ...goldenOptions,
    nats,
  });
  if (plan.kind !== "inject") throw new Error(`expected an injection, got ${plan.kind}`);
  const sidecar = plan.pod.spec.initContainers?.find((c) => c.name === "veltrix-sidecar");
  if (!sidecar) throw new Error("no sidecar");
  return { pod: plan.pod, sidecar };
}

const env = (c: Container): Record<string, string | undefined> =>
  Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

describe("NATS TLS from the sidecar defaults file", () => {
  it("is off unless the file says natsTls, whatever else it names", () => {
    const nats = natsInjection(
      { natsTlsFrom: { secretName: "ca" }, natsTlsServerName: "n" },
      "nats://x:4222",
    );
    expect(nats).toEqual({ url: "nats://x:4222" });
    const { pod: p, sidecar } = injected(nats);
    expect(Object.keys(env(sidecar)).filter((k) => k.startsWith("VELTRIX_NATS_TLS"))).toEqual([]);
    expect(p.spec.volumes?.map((v) => v.name)).not.toContain("veltrix-nats-tls");
  });

  it("with only natsTls: TLS on with the system trust store, nothing mounted", () => {
    const nats = natsInjection({ natsUrl: "tls://nats:4222", natsTls: true }, "unused");
    expect(nats).toEqual({ url: "tls://nats:4222", tls: {} });
    const { pod: p, sidecar } = injected(nats);
    expect(env(sidecar)).toMatchObject({ VELTRIX_NATS_URL: "tls://nats:4222", VELTRIX_NATS_TLS: "true" });
    expect(env(sidecar)).not.toHaveProperty("VELTRIX_NATS_TLS_DIR");
    expect(p.spec.volumes?.map((v) => v.name)).not.toContain("veltrix-nats-tls");
  });

  it("mounts a CA ConfigMap and sets the directory and server name", () => {
    const nats = natsInjection(
      { natsTls: true, natsTlsFrom: { configMapName: "nats-ca" }, natsTlsServerName: "nats.messaging.svc" },
      "tls://nats:4222",
    );
    const { pod: p, sidecar } = injected(nats);
    expect(env(sidecar)).toMatchObject({
      VELTRIX_NATS_TLS: "true",
      VELTRIX_NATS_TLS_DIR: "/etc/veltrix-nats-tls",
      VELTRIX_NATS_TLS_SERVER_NAME: "nats.messaging.svc",
    });
    expect(sidecar.volumeMounts).toContainEqual({
      name: "veltrix-nats-tls",
      mountPath: "/etc/veltrix-nats-tls",
      readOnly: true,
    });
    expect(p.spec.volumes).toContainEqual({ name: "veltrix-nats-tls", configMap: { name: "nats-ca" } });
  });

  it("prefers the Secret (CA and client certificate) when both are named", () => {
    const nats = natsInjection(
      { natsTls: true, natsTlsFrom: { secretName: "nats-mtls", configMapName: "nats-ca" } },
      "tls://nats:4222",
    );
    const { pod: p } = injected(nats);
    expect(p.spec.volumes?.filter((v) => v.name === "veltrix-nats-tls")).toEqual([
      { name: "veltrix-nats-tls", secret: { secretName: "nats-mtls" } },
    ]);
  });
});

describe("NATS credentials from the sidecar defaults file", () => {
  it("mounts the whole Secret as the credentials directory for the default key", () => {
    // The chart's default key "creds" is one of the directory's keys, so any of
    // creds, user and password, or token in the namespace's Secret works.
    for (const key of ["creds", undefined]) {
      const nats = natsInjection(
        { natsCredentials: { secretName: "team-nats", ...(key && { key }) } },
        "nats://nats:4222",
      );
      expect(nats).toEqual({ url: "nats://nats:4222", credentialsSecret: { name: "team-nats" } });
      const { pod: p, sidecar } = injected(nats);
      expect(env(sidecar)).toMatchObject({ VELTRIX_NATS_CREDENTIALS_DIR: "/etc/veltrix-nats" });
      expect(env(sidecar)).not.toHaveProperty("VELTRIX_NATS_CREDENTIALS");
      expect(sidecar.volumeMounts).toContainEqual({
        name: "veltrix-nats",
        mountPath: "/etc/veltrix-nats",
        readOnly: true,
      });
      expect(p.spec.volumes?.filter((v) => v.name === "veltrix-nats")).toEqual([
        { name: "veltrix-nats", secret: { secretName: "team-nats" } },
      ]);
    }
  });

  it("mounts only a custom key, as the .creds file", () => {
    const nats = natsInjection(
      { natsCredentials: { secretName: "team-nats", key: "nats.creds" } },
      "nats://nats:4222",
    );
    const { pod: p, sidecar } = injected(nats);
    expect(env(sidecar)).toMatchObject({ VELTRIX_NATS_CREDENTIALS: "/etc/veltrix-nats/nats.creds" });
    expect(env(sidecar)).not.toHaveProperty("VELTRIX_NATS_CREDENTIALS_DIR");
    expect(p.spec.volumes?.filter((v) => v.name === "veltrix-nats")).toEqual([
      {
        name: "veltrix-nats",
        secret: { secretName: "team-nats", items: [{ key: "nats.creds", path: "nats.creds" }] },
      },
    ]);
  });

  it("without a Secret name: no credentials, nothing mounted", () => {
    const nats = natsInjection({ natsCredentials: { secretName: "", key: "creds" } }, "nats://nats:4222");
    expect(nats).toEqual({ url: "nats://nats:4222" });
    const { pod: p, sidecar } = injected(nats);
    expect(Object.keys(env(sidecar)).filter((k) => k.startsWith("VELTRIX_NATS_CREDENTIALS"))).toEqual([]);
    expect(p.spec.volumes?.map((v) => v.name)).not.toContain("veltrix-nats");
  });
});

describe("NATS credentials minted by the operator", () => {
  it("mounts the Secret of the pod's own config, whatever Secret the file also names", () => {
    const nats = natsInjection(
      { natsCredentials: { secretName: "team-nats", key: "nats.creds", minted: true } },
      "nats://nats:4222",
    );
    expect(nats).toMatchObject({ mintedCredentials: true });
    const { pod: p, sidecar } = injected(nats);
    expect(env(sidecar)).toMatchObject({ VELTRIX_NATS_CREDENTIALS_DIR: "/etc/veltrix-nats" });
    expect(env(sidecar)).not.toHaveProperty("VELTRIX_NATS_CREDENTIALS");
    expect(p.spec.volumes?.filter((v) => v.name === "veltrix-nats")).toEqual([
      { name: "veltrix-nats", secret: { secretName: `${goldenConfig.name}-veltrix-nats` } },
    ]);
  });
});
