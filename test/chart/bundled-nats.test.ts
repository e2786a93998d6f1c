// The bundled NATS (nats.install=true): the nats.conf the chart renders is started by the real
// nats-server, which must come up with JetStream, answer the probe paths of the StatefulSet and,
// with the auth.conf of the Secret the operator makes (the chart mounts it beside the config),
// admit no client without credentials; with nats.bundled.tls.secretName it serves TLS.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1ConfigMap, V1Container, V1StatefulSet } from "@kubernetes/client-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServingCertificate } from "../../operator/certs/issue.ts";
import {
  generateNatsAuth,
  type NatsAuthData,
  natsAuthKeys,
} from "../../operator/nats-identity/nats-auth-secret.ts";
import { headerAllowance } from "../../api/jetstream.ts";
import { applyDefaults } from "../../api/resolve.ts";
import { tempDir } from "../harness/env.ts";
import { freePort } from "../../devenv/ports.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { toolPath } from "../../devenv/tools.ts";
import { find, renderChart, valuesFiles } from "./chart.ts";

interface Bundled {
  port: number;
  monitorPort: number;
  auth: Required<NatsAuthData>;
  container: V1Container | undefined;
}

const sidecarDefaultMaxBody = applyDefaults({}).queue.maxBodyBytes;

describe("bundled NATS config (real nats-server)", () => {
  const started: ManagedProcess[] = [];
  afterAll(async () => {
    for (const p of started) await p.stop();
  });

  /**
   * Renders the chart with `set`, lays the pod's volumes out under a temp dir (the ConfigMap at
   * /etc/nats, the auth Secret's auth.conf at /etc/nats-auth, `files` for the others) and starts
   * nats-server with the rendered config, changed only for loopback ports and local paths.
   */
  async function startRendered(set: string[], files: Record<string, string> = {}): Promise<Bundled> {
    const manifests = await renderChart({ values: [valuesFiles.bundledNats], set });
    const conf = find<V1ConfigMap>(manifests, "ConfigMap", "vx-veltrix-nats").data?.["nats.conf"] ?? "";
    const sts = find<V1StatefulSet>(manifests, "StatefulSet", "vx-veltrix-nats");
    const container = sts.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(["--config", "/etc/nats/nats.conf"]);
    expect(sts.spec?.template.spec?.volumes?.find((v) => v.name === "auth")?.secret?.secretName).toBe(
      "vx-veltrix-nats-auth",
    );
    expect(container?.volumeMounts?.find((m) => m.name === "auth")?.mountPath).toBe("/etc/nats-auth");
    const [port, monitorPort] = [await freePort(), await freePort()];
    const dir = tempDir("bundled-nats");
    const local = conf
      .replace(/^port: 4222$/m, `port: ${port}\nhost: 127.0.0.1`)
      .replace(/^http_port: 8222$/m, `http: 127.0.0.1:${monitorPort}`)
      .replace("store_dir: /data/jetstream", `store_dir: ${JSON.stringify(join(dir, "jetstream"))}`)
      .replaceAll("/etc/nats-tls/", `${join(dir, "etc/nats-tls")}/`);
    expect(local).not.toBe(conf);
    const auth = await generateNatsAuth();
    const layout = {
      "etc/nats/nats.conf": local,
      "etc/nats-auth/auth.conf": auth[natsAuthKeys.serverConfig],
      ...files,
    };
    for (const [path, text] of Object.entries(layout)) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const nats = new ManagedProcess({
      name: "bundled-nats",
      command: toolPath("nats-server"),
      args: ["--config", join(dir, "etc/nats/nats.conf")],
      logFile: join(dir, "nats.log"),
      env: { ...process.env, POD_NAME: "vx-veltrix-nats-0" },
    });
    started.push(nats);
    nats.start();
    await nats.waitUntil(
      "ready (readiness probe path)",
      async () =>
        (await fetch(`http://127.0.0.1:${monitorPort}${container?.readinessProbe?.httpGet?.path}`)).ok,
      30_000,
    );
    return { port, monitorPort, auth, container };
  }

  it("fsyncs before every ack with nats.bundled.syncInterval=always, and at nats-server's default without", async () => {
    const jetstreamConfig = async (b: Bundled) =>
      (
        (await (await fetch(`http://127.0.0.1:${b.monitorPort}/varz`)).json()) as {
          jetstream: { config: { sync_always?: boolean; sync_interval?: number } };
        }
      ).jetstream.config;
    const always = await jetstreamConfig(await startRendered(["nats.bundled.syncInterval=always"]));
    expect(always.sync_always).toBe(true);
    const every10s = await jetstreamConfig(await startRendered(["nats.bundled.syncInterval=10s"]));
    expect([every10s.sync_always ?? false, every10s.sync_interval]).toEqual([false, 10_000_000_000]);
    const byDefault = await jetstreamConfig(await startRendered([]));
    expect([byDefault.sync_always ?? false, byDefault.sync_interval]).toEqual([false, 120_000_000_000]);
  });

  const operatorUser = (b: Bundled) =>
    credsAuthenticator(new TextEncoder().encode(b.auth[natsAuthKeys.operatorCreds]));

  it("starts with JetStream and auth on, answers the probes, and refuses clients without credentials", async () => {
    const b = await startRendered([]);
    const probe = async (path: string | undefined): Promise<boolean> =>
      (await fetch(`http://127.0.0.1:${b.monitorPort}${path}`)).ok;
    expect(await probe(b.container?.livenessProbe?.httpGet?.path)).toBe(true);
    const varz = (await (await fetch(`http://127.0.0.1:${b.monitorPort}/varz`)).json()) as {
      server_name: string;
      max_payload: number;
      jetstream?: { config?: { max_storage?: number } };
    };
    expect(varz.server_name).toBe("vx-veltrix-nats-0");
    // A queued request of the default maxBodyBytes (1 MiB) plus the sidecar's headers fits.
    expect(varz.max_payload).toBeGreaterThanOrEqual(sidecarDefaultMaxBody + headerAllowance);
    expect(varz.jetstream?.config?.max_storage).toBe(Math.floor((2 * 1024 ** 3 * 9) / 10));

    const url = `nats://127.0.0.1:${b.port}`;
    await expect(connect({ servers: url, reconnect: false })).rejects.toThrow(/authori[sz]ation/i);
    // The operator's own user has JetStream in its account.
    const nc = await connect({ servers: url, authenticator: operatorUser(b) });
    const account = await (await jetstreamManager(nc)).getAccountInfo();
    expect(account.limits.max_storage).toBe(-1);
    await nc.close();
  });

  it("serves TLS from nats.bundled.tls.secretName: clients trusting its ca.crt connect, others do not", async () => {
    const ca = await createCertificateAuthority("veltrix-test-bundled-nats-ca", 1);
    const serving = await issueServingCertificate(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] }, 1);
    const b = await startRendered(["nats.bundled.tls.secretName=nats-serving"], {
      "etc/nats-tls/tls.crt": serving.certPem,
      "etc/nats-tls/tls.key": serving.keyPem,
      "etc/nats-tls/ca.crt": ca.certPem,
    });
    const caFile = join(tempDir("bundled-nats-ca"), "ca.crt");
    writeFileSync(caFile, ca.certPem);
    const url = `tls://127.0.0.1:${b.port}`;
    const nc = await connect({ servers: url, tls: { caFile }, authenticator: operatorUser(b) });
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();
    // Without the CA the certificate does not verify; without credentials, TLS alone admits nobody.
    await expect(
      connect({ servers: url, tls: {}, authenticator: operatorUser(b), reconnect: false }),
    ).rejects.toThrow(/certificate|verify/i);
    await expect(connect({ servers: url, tls: { caFile }, reconnect: false })).rejects.toThrow(
      /authori[sz]ation/i,
    );
  });

  it("keeps JetStream in an emptyDir instead of a PVC with persistence=emptyDir (no StorageClass needed)", async () => {
    const sts = (manifests: Awaited<ReturnType<typeof renderChart>>): V1StatefulSet =>
      find<V1StatefulSet>(manifests, "StatefulSet", "vx-veltrix-nats");
    const pvc = sts(await renderChart({ values: [valuesFiles.bundledNats] }));
    expect(pvc.spec?.volumeClaimTemplates?.map((t) => t.metadata?.name)).toEqual(["data"]);
    expect(pvc.spec?.template.spec?.volumes?.map((v) => v.name)).toEqual(["config", "auth"]);
    const empty = sts(
      await renderChart({ values: [valuesFiles.bundledNats], set: ["nats.bundled.persistence=emptyDir"] }),
    );
    expect(empty.spec?.volumeClaimTemplates).toBeUndefined();
    const data = empty.spec?.template.spec?.volumes?.find((v) => v.name === "data");
    expect(data?.emptyDir?.sizeLimit).toBe("2Gi");
  });
});
