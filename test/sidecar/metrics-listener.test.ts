// The /metrics-only listener (--metrics-port): what a cluster's Prometheus scrapes, on
// the pod's address, while the admin API stays on 127.0.0.1 and out of its reach.
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../devenv/ports.ts";
import { tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig, type App, type Sidecar } from "./helpers.ts";

describe("sidecar metrics listener", () => {
  let app: App;
  let sc: Sidecar;

  afterAll(async () => {
    await sc.process.stop();
    await app.process.stop();
  });

  it("serves GET /metrics and nothing of the admin API", async () => {
    const dir = tempDir("sidecar-metrics");
    app = await startApp(dir);
    const configFile = writeVeltrixConfig(dir, { name: "metrics", queue: { mode: "direct" } });
    const port = await freePort();
    sc = await startSidecar({
      dir,
      configFile,
      appPort: app.port,
      extraArgs: ["--metrics-port", String(port)],
    });
    const metricsUrl = `http://127.0.0.1:${port}`;
    expect((await fetch(`${sc.url}/ok`)).status).toBe(200);

    const res = await fetch(`${metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^veltrix_sidecar_requests_total\{mode="direct",outcome="done"\} 1$/m);

    // Nothing of the admin API here; it answers on its own port (the positive control).
    for (const path of ["/readyz", "/v1/config", "/v1/requests/x", "/drain"]) {
      const here = await fetch(`${metricsUrl}${path}`, { method: path === "/drain" ? "POST" : "GET" });
      expect(here.status).toBe(404);
      expect(((await here.json()) as { code: string }).code).toBe("VX_ERR_NOT_FOUND");
    }
    expect((await fetch(`${sc.admin}/v1/config`)).status).toBe(200);
  });
});
