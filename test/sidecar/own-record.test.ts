import { describe, expect, it } from "vitest";
import { tempDir } from "../harness/env.ts";
import { startNats, type NatsServer } from "../../devenv/nats.ts";
import { startApp, startSidecar, writeVeltrixConfig } from "./helpers.ts";

interface AppAnswer {
  id: string;
  self: { status: number; state?: string; config?: { config?: Record<string, string> } };
}

// The per-request config lives on disk and reaches the app through the admin API: an app
// that asks for its own record while it handles the request must find it, at once (no
// retry), in a single process and when another process (the --workers primary) serves
// the admin API over the workers' record files; in `sync` two workers may each hold a
// row of the request (the one holding the client, the one executing it).
describe("an app reads its own record mid-request (real processes, real SQLite)", () => {
  const cases = [
    { mode: "direct", workers: 1 },
    { mode: "direct", workers: 2 },
    { mode: "sync", workers: 2 },
  ] as const;
  for (const { mode, workers } of cases) {
    it(`finds it dispatched, with its resolved config: ${mode}, --workers ${workers}`, async () => {
      const dir = tempDir(`sidecar-own-record-${mode}-${workers}`);
      const nats: NatsServer | undefined = mode === "sync" ? await startNats({ dir }) : undefined;
      const app = await startApp(dir);
      const configFile = writeVeltrixConfig(dir, {
        name: `own-record-${mode}-${workers}-${Date.now()}`,
        config: { tier: "base" },
        overrides: [{ name: "beta", match: { pathPrefix: "/beta" }, config: { tier: "beta" } }],
        queue: { mode, maxConcurrency: 8 },
      });
      const sc = await startSidecar({
        dir,
        configFile,
        appPort: app.port,
        ...(nats ? { natsUrl: nats.url } : {}),
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
        await nats?.stop();
      }
    }, 60_000);
  }
});
