// The bundled NATS (nats.install=true): the nats.conf the chart renders is started by the real
// nats-server, which must come up with JetStream, answer the probe paths of the StatefulSet and,
// with the auth.conf of the Secret the operator makes (the chart mounts it beside the config),
// admit no client without credentials.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1ConfigMap, V1StatefulSet } from "@kubernetes/client-node";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../harness/env.ts";
import { freePort } from "../../devenv/ports.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { toolPath } from "../../devenv/tools.ts";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { generateNatsAuth, natsAuthKeys } from "../../operator/nats-identity/nats-auth-secret.ts";
import { find, renderChart, valuesFiles } from "./chart.ts";

describe("bundled NATS config (real nats-server)", () => {
  let nats: ManagedProcess | undefined;
  afterAll(async () => {
    await nats?.stop();
  });

  it("starts with JetStream and auth on, answers the probes, and refuses clients without credentials", async () => {
    const manifests = await renderChart({ values: [valuesFiles.bundledNats] });
    const conf = find<V1ConfigMap>(manifests, "ConfigMap", "vx-veltrix-nats").data?.["nats.conf"] ?? "";
    const sts = find<V1StatefulSet>(manifests, "StatefulSet", "vx-veltrix-nats");
    const container = sts.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(["--config", "/etc/nats/nats.conf"]);
    const [port, monitorPort] = [await freePort(), await freePort()];
    const dir = tempDir("bundled-nats");
    // Only what differs on a laptop: loopback ports and the data directory.
    const local = conf
      .replace(/^port: 4222$/m, `port: ${port}\nhost: 127.0.0.1`)
      .replace(/^http_port: 8222$/m, `http: 127.0.0.1:${monitorPort}`)
      .replace("store_dir: /data/jetstream", `store_dir: ${JSON.stringify(join(dir, "jetstream"))}`);
    expect(local).not.toBe(conf);
    // The pod's layout: the ConfigMap at /etc/nats, the auth Secret's auth.conf at /etc/nats-auth.
    const auth = await generateNatsAuth();
    const volume = (path: string, name: string, text: string): string => {
      mkdirSync(join(dir, path), { recursive: true });
      writeFileSync(join(dir, path, name), text);
      return join(dir, path, name);
    };
    expect(sts.spec?.template.spec?.volumes?.find((v) => v.name === "auth")?.secret?.secretName).toBe(
      "vx-veltrix-nats-auth",
    );
    expect(container?.volumeMounts?.find((m) => m.name === "auth")?.mountPath).toBe("/etc/nats-auth");
    volume("etc/nats-auth", "auth.conf", auth[natsAuthKeys.serverConfig]);
    const file = volume("etc/nats", "nats.conf", local);
    nats = new ManagedProcess({
      name: "bundled-nats",
      command: toolPath("nats-server"),
      args: ["--config", file],
      logFile: join(dir, "nats.log"),
      env: { ...process.env, POD_NAME: "vx-veltrix-nats-0" },
    });
    nats.start();
    const probe = async (path: string | undefined): Promise<boolean> =>
      (await fetch(`http://127.0.0.1:${monitorPort}${path}`)).ok;
    await nats.waitUntil(
      "ready (readiness probe path)",
      () => probe(container?.readinessProbe?.httpGet?.path),
      30_000,
    );
    expect(await probe(container?.livenessProbe?.httpGet?.path)).toBe(true);
    const varz = (await (await fetch(`http://127.0.0.1:${monitorPort}/varz`)).json()) as {
      server_name: string;
      jetstream?: { config?: { max_storage?: number } };
    };
    expect(varz.server_name).toBe("vx-veltrix-nats-0");
    expect(varz.jetstream?.config?.max_storage).toBe(Math.floor((2 * 1024 ** 3 * 9) / 10));

    const url = `nats://127.0.0.1:${port}`;
    await expect(connect({ servers: url, reconnect: false })).rejects.toThrow(/authori[sz]ation/i);
    // The operator's own user has JetStream in its account.
    const nc = await connect({
      servers: url,
      authenticator: credsAuthenticator(new TextEncoder().encode(auth[natsAuthKeys.operatorCreds])),
    });
    const account = await (await jetstreamManager(nc)).getAccountInfo();
    expect(account.limits.max_storage).toBe(-1);
    await nc.close();
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
