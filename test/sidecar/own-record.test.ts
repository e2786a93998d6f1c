import { describe, expect, it } from "vitest";
import { tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

interface AppAnswer {
  id: string;
  self: { status: number; state?: string; config?: { config?: Record<string, string> } };
}

// The per-request config lives on disk and reaches the app through the admin API: an app
// that asks for its own record while it handles the request must find it, at once (no
// retry), in a single process and when another process (the --workers primary) serves
// the admin API over the workers' record files.
describe("an app reads its own record mid-request (real processes, real SQLite)", () => {
  for (const workers of [1, 2]) {
    it(`finds it dispatched, with its resolved config, with --workers ${workers}`, async () => {
      const dir = tempDir(`sidecar-own-record-${workers}`);
      const app = await startApp(dir);
      const configFile = writeVeltrixConfig(dir, {
        name: `own-record-${workers}`,
        config: { tier: "base" },
        overrides: [{ name: "beta", match: { pathPrefix: "/beta" }, config: { tier: "beta" } }],
        queue: { mode: "direct", maxConcurrency: 8 },
      });
      const sc = await startSidecar({
        dir,
        configFile,
        appPort: app.port,
        extraArgs: ["--workers", String(workers)],
      });
      try {
        const self = encodeURIComponent(sc.admin);
        const answers = await Promise.all(
          Array.from({ length: 24 }, async (_, i) => {
            const path = i % 2 === 0 ? "/beta/x" : "/plain";
            // Fresh connections, so the cluster spreads them over the workers.
            const res = await fetch(`${sc.url}${path}?self=${self}`, {
              headers: { "x-veltrix-request-id": `own-${workers}-${i}`, connection: "close" },
            });
            expect(res.status).toBe(200);
            return { path, answer: (await res.json()) as AppAnswer };
          }),
        );
        for (const { path, answer } of answers) {
          expect(answer.self, answer.id).toMatchObject({ status: 200, state: "dispatched" });
          expect(answer.self.config?.config?.["tier"]).toBe(path.startsWith("/beta") ? "beta" : "base");
        }
      } finally {
        await sc.process.stop();
        await app.process.stop();
      }
    }, 60_000);
  }
});
