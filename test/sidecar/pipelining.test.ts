// Pipelined requests on one connection (issue 15, RFC 9112 §9.3.2): safe ones may run
// together at the app; an unsafe one (POST) starts only after the one before it finished,
// so the app sees them one at a time and in the order sent. Real sidecar, app and NATS.
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, natsUrl, tempDir } from "../harness/env.ts";
import { exchange } from "./fidelity/raw-http.ts";
import { startApp, startSidecar, writeVeltrixConfig, type App, type Sidecar } from "./helpers.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function setUp(mode: "direct" | "sync"): Promise<{ app: App; sc: Sidecar }> {
  const dir = tempDir(`pipelining-${mode}`);
  const app = await startApp(dir);
  cleanups.push(() => app.process.stop());
  const configFile = writeVeltrixConfig(dir, {
    name: `pipelining-${mode}-${randomBytes(3).toString("hex")}`,
    queue: { mode, maxConcurrency: 4, requestTimeout: "30s" },
  });
  const sc = await startSidecar({
    dir,
    configFile,
    appPort: app.port,
    ...(mode === "sync" ? { natsUrl: natsUrl() } : {}),
  });
  cleanups.push(() => sc.process.stop());
  return { app, sc };
}

function pipelined(sc: Sidecar, method: "GET" | "POST", ids: string[]): ReturnType<typeof exchange> {
  const body = method === "POST" ? "x" : "";
  const one = (id: string): string =>
    `${method} /work?hold=1 HTTP/1.1\r\nHost: a.test\r\nx-veltrix-request-id: ${id}\r\n` +
    `${method === "POST" ? "Content-Length: 1\r\n" : ""}\r\n${body}`;
  return exchange(sc.port, Buffer.from(ids.map(one).join("")), {
    responses: ids.length,
    methods: ids.map(() => method),
    deadlineMs: 60_000,
  });
}

describe("pipelined requests on one connection", () => {
  for (const mode of ["direct", "sync"] as const) {
    it(`${mode}: GETs reach the app together; POSTs one at a time, in the order sent`, async () => {
      const { app, sc } = await setUp(mode);
      const tag = randomBytes(4).toString("hex");

      // Positive control: two pipelined GETs are at the app at once.
      const gets = pipelined(sc, "GET", [`get-a-${tag}`, `get-b-${tag}`]);
      await eventually("both GETs held at the app", async () =>
        (await app.stats()).held === 2 ? true : undefined,
      );
      await app.release();
      expect((await gets).responses.map((r) => r.status)).toEqual([200, 200]);
      await app.reset();

      const [first, second] = [`post-a-${tag}`, `post-b-${tag}`];
      const posts = pipelined(sc, "POST", [first, second]);
      await eventually("the first POST held at the app", async () =>
        (await app.stats()).held === 1 ? true : undefined,
      );
      // The second is admitted (its record exists) and waits for its turn, not at the app.
      await eventually("the second POST admitted", async () =>
        (await fetch(`${sc.admin}/v1/requests/${second}`)).ok ? true : undefined,
      );
      expect((await app.stats()).seen[second]).toBeUndefined();
      await app.release();
      await eventually("the second POST held at the app", async () => {
        const s = await app.stats();
        return s.held === 1 && s.seen[second] === 1 ? true : undefined;
      });
      await app.release();
      expect((await posts).responses.map((r) => r.status)).toEqual([200, 200]);
      const stats = await app.stats();
      expect(stats.maxInFlight).toBe(1);
      expect(Object.keys(stats.seen)).toEqual([first, second]);
    }, 120_000);
  }
});
