import { readFileSync } from "node:fs";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, tempDir } from "../harness/env.ts";
import { startApp, startSidecar, writeVeltrixConfig, type App, type Sidecar } from "./helpers.ts";

/** A raw HTTP/1.1 request (fetch refuses hop-by-hop headers such as Connection or TE). */
function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    if (opts.chunked && opts.body) {
      req.write(opts.body);
      req.end();
    } else req.end(opts.body);
  });
}

/** Bytes the kernel holds for the local TCP socket on `port`, unread by its process (/proc/net/tcp rx_queue). */
function receiveQueueBytes(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] local address:port, f[4] tx_queue:rx_queue, both hex.
      if (f[1]?.endsWith(`:${hexPort}`)) return parseInt(f[4]?.split(":")[1] ?? "0", 16);
    }
  }
  return 0;
}

describe("sidecar direct mode (real sidecar and app processes, SQLite on disk)", () => {
  let dir: string;
  let app: App;
  let sc: Sidecar;

  beforeAll(async () => {
    dir = tempDir("sidecar-direct");
    app = await startApp(dir);
    const configFile = writeVeltrixConfig(dir, {
      name: "shop",
      config: { "db.pool": "10", color: "blue" },
      overrides: [
        { name: "v2", match: { pathPrefix: "/v2/" }, config: { color: "green" } },
        { name: "beta", match: { headers: { "x-tier": "beta" } }, config: { "db.pool": "2" } },
      ],
      queue: {
        mode: "direct",
        maxConcurrency: 3,
        maxQueueDepth: 5,
        maxWait: "1s",
        requestTimeout: "1s",
        maxBodyBytes: 1000,
        overflow: { status: 429, retryAfter: "2s" },
      },
    });
    sc = await startSidecar({ dir, configFile, appPort: app.port });
  });
  afterAll(async () => {
    await sc.process.stop();
    await app.process.stop();
  });

  it("forwards with Veltrix headers and strips hop-by-hop headers both ways", async () => {
    const res = await raw(`${sc.url}/v2/items?x=1`, {
      headers: {
        connection: "keep-alive, x-secret",
        "x-secret": "must-not-pass",
        te: "trailers",
        "proxy-authorization": "Basic abc",
        "x-veltrix-request-id": "client-id-0001",
        "x-veltrix-config-revision": "forged",
        "x-tier": "beta",
      },
    });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body) as { headers: Record<string, string>; path: string; revision: string };
    expect(seen.path).toBe("/v2/items?x=1");
    expect(seen.headers["x-secret"]).toBeUndefined();
    expect(seen.headers["te"]).toBeUndefined();
    expect(seen.headers["proxy-authorization"]).toBeUndefined();
    expect(seen.headers["x-veltrix-request-id"]).toBe("client-id-0001");
    expect(seen.headers["x-veltrix-attempt"]).toBe("1");
    expect(seen.headers["x-veltrix-overrides"]).toBe("v2,beta");
    expect(seen.revision).toMatch(/^[0-9a-f]{16}$/);
    expect(seen.revision).not.toBe("forged");
    // The app's own Keep-Alive (timeout=5) is hop-by-hop: the client sees the sidecar's.
    expect(res.headers["keep-alive"]).not.toBe("timeout=5");
    expect(res.headers["x-app"]).toBe("fixture");
    expect(res.headers["x-veltrix-request-id"]).toBe("client-id-0001");
    expect(res.headers["x-veltrix-config-revision"]).toBe(seen.revision);

    // The record and the resolved config are on disk, served by the admin API.
    const rec = (await (await fetch(`${sc.admin}/v1/requests/client-id-0001`)).json()) as {
      record: { state: string; status: number; mode: string; revision: string };
      config: { overrides: string[]; config: Record<string, string> };
    };
    expect(rec.record).toMatchObject({ state: "done", status: 200, mode: "direct", revision: seen.revision });
    expect(rec.config).toEqual({
      revision: seen.revision,
      overrides: ["v2", "beta"],
      config: { "db.pool": "2", color: "green" },
    });
  });

  it("replaces an invalid client request id", async () => {
    const res = await fetch(`${sc.url}/x`, { headers: { "x-veltrix-request-id": "bad id!" } });
    const id = res.headers.get("x-veltrix-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 413 for bodies over maxBodyBytes (declared or chunked) and 431 for huge headers", async () => {
    const declared = await raw(`${sc.url}/upload`, { method: "POST", body: "x".repeat(1001) });
    expect(declared.status).toBe(413);
    expect(declared.headers["x-veltrix-error"]).toBe("VX_ERR_BODY_TOO_LARGE");
    const chunked = await raw(`${sc.url}/upload`, {
      method: "POST",
      headers: { "transfer-encoding": "chunked" },
      body: "y".repeat(5000),
      chunked: true,
    });
    expect(chunked.status).toBe(413);
    const ok = await raw(`${sc.url}/upload`, { method: "POST", body: "z".repeat(900) });
    expect(JSON.parse(ok.body)).toMatchObject({ bodyBytes: 900 });
    const big = await raw(`${sc.url}/`, { headers: { "x-big": "a".repeat(20_000) } });
    expect(big.status).toBe(431);
  });

  it("answers 504 when the app does not answer within requestTimeout", async () => {
    // The app never answers: only the sidecar's requestTimeout can end this request.
    const res = await fetch(`${sc.url}/slow?hang=1`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { code: string }).code).toBe("VX_ERR_UPSTREAM_TIMEOUT");
    expect(res.headers.get("x-veltrix-request-id")).toBeTruthy();
    expect(res.headers.get("x-veltrix-config-revision")).toMatch(/^[0-9a-f]{16}$/);
  });

  it("never lets more than maxConcurrency reach the app and sheds the rest with the overflow status", async () => {
    await eventually("app idle", async () => ((await app.stats()).inFlight === 0 ? true : undefined));
    await app.reset();
    type Answer = { status: number; retryAfter: string | null; error: string | null };
    const answered: Answer[] = [];
    // The app holds every request until the test releases it: 3 run, at most 5 wait.
    const requests = Array.from({ length: 20 }, async () => {
      const res = await fetch(`${sc.url}/work?hold=1`);
      await res.arrayBuffer();
      answered.push({
        status: res.status,
        retryAfter: res.headers.get("retry-after"),
        error: res.headers.get("x-veltrix-error"),
      });
    });
    // So at least 12 are shed while the app still holds the first 3: shed without
    // waiting for the app (waiters past maxWait 1 s are shed too).
    await eventually("12 shed while 3 are held", async () =>
      answered.length >= 12 && (await app.stats()).held === 3 ? true : undefined,
    );
    for (const r of answered) {
      expect(r).toMatchObject({ status: 429, retryAfter: "2" });
      expect(["VX_ERR_QUEUE_FULL", "VX_ERR_QUEUE_TIMEOUT"]).toContain(r.error);
    }
    // Released, each waiter admitted in turn is held again: release until all are answered.
    await eventually("every request answered", async () => {
      await app.release();
      return answered.length === 20 ? true : undefined;
    });
    await Promise.all(requests);
    const stats = await app.stats();
    // The bound was reached (so more would have been seen) and never passed.
    expect(stats.maxInFlight).toBe(3);
    const ok = answered.filter((r) => r.status === 200);
    const shed = answered.filter((r) => r.status === 429);
    expect(ok.length + shed.length).toBe(20);
    expect(ok.length).toBe(stats.count);
    expect(shed.length).toBeGreaterThanOrEqual(12);
    for (const r of shed) expect(r.retryAfter).toBe("2");
    const metrics = await (await fetch(`${sc.admin}/metrics`)).text();
    expect(metrics).toMatch(/veltrix_sidecar_requests_total\{mode="direct",outcome="done"\} [1-9]/);
    expect(metrics).toMatch(/veltrix_sidecar_shed_total\{reason="VX_ERR_QUEUE_(FULL|TIMEOUT)"\} [1-9]/);
  });

  it("releases the slot when the client goes away mid-request", async () => {
    await app.reset();
    const ac = new AbortController();
    const pending = fetch(`${sc.url}/gone?hold=1`, {
      signal: ac.signal,
      headers: { "x-veltrix-request-id": "client-gone-0001" },
    }).catch((err: unknown) => err);
    await eventually("request at the app", async () =>
      (await app.stats()).inFlight === 1 ? true : undefined,
    );
    ac.abort();
    await pending;
    await eventually("app connection closed", async () =>
      (await app.stats()).inFlight === 0 ? true : undefined,
    );
    const rec = await eventually("record failed", async () => {
      const r = (await (await fetch(`${sc.admin}/v1/requests/client-gone-0001`)).json()) as {
        record: { state: string };
      };
      return r.record.state === "failed" ? r : undefined;
    });
    expect(rec.record.state).toBe("failed");
    // All three slots are free again.
    const again = await Promise.all([1, 2, 3].map(() => fetch(`${sc.url}/ok?delay=50`)));
    expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it("streams a large answer to a client that reads slowly, intact", async () => {
    const size = 8_000_000;
    const received = await new Promise<Buffer>((resolve, reject) => {
      const req = request(`${sc.url}/big?bytes=${size}`, { agent: false }, (res) => {
        const chunks: Buffer[] = [];
        // Not reading fills the socket buffers, so the sidecar's writes to this client
        // report backpressure and it must pause the app's stream. Resumed once the kernel
        // holds bytes this client has not read: the path back to the sidecar is full.
        res.pause();
        const port = res.socket.localPort ?? 0;
        void eventually("unread bytes queued for the client", () =>
          receiveQueueBytes(port) > 0 ? true : undefined,
        ).then(() => res.resume(), reject);
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks)));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
    expect(received.length).toBe(size);
    const wrong = received.findIndex((b, i) => b !== i % 251);
    expect(wrong).toBe(-1);
  });

  it("cuts the client's connection when the app cuts its answer mid-body", async () => {
    const size = 2_000_000;
    const outcome = await new Promise<{ received: number; aborted: boolean }>((resolve) => {
      let received = 0;
      const req = request(`${sc.url}/big?bytes=${size}&cut=1`, { agent: false }, (res) => {
        expect(res.statusCode).toBe(200);
        res.on("data", (c: Buffer) => (received += c.length));
        res.on("end", () => resolve({ received, aborted: false }));
        res.on("error", () => resolve({ received, aborted: true }));
        res.on("aborted", () => resolve({ received, aborted: true }));
      });
      req.on("error", () => resolve({ received: -1, aborted: true }));
      req.end();
    });
    // Never a short body that looks complete.
    expect(outcome.aborted).toBe(true);
    expect(outcome.received).toBeLessThan(size);
  });

  it("serves the config with an ETag and long-polls on If-None-Match", async () => {
    const first = await fetch(`${sc.admin}/v1/config`);
    const etag = first.headers.get("etag") ?? "";
    expect(((await first.json()) as { config: Record<string, string> }).config).toEqual({
      "db.pool": "10",
      color: "blue",
    });
    const t0 = Date.now();
    const again = await fetch(`${sc.admin}/v1/config?wait=300ms`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    // A lower bound, not a speed: the answer came when the wait ended, not before.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });
});

describe("sidecar shutdown in direct mode", () => {
  it("on SIGTERM finishes in-flight requests, refuses new ones, and exits", async () => {
    const dir = tempDir("sidecar-term");
    const app = await startApp(dir);
    const configFile = writeVeltrixConfig(dir, {
      name: "term",
      queue: { mode: "direct", maxConcurrency: 8 },
    });
    const sc = await startSidecar({ dir, configFile, appPort: app.port });
    try {
      const inflight = Array.from({ length: 5 }, () => fetch(`${sc.url}/long?hold=1`).then((r) => r.status));
      await eventually("requests at the app", async () =>
        (await app.stats()).inFlight === 5 ? true : undefined,
      );
      const stopped = sc.process.stop();
      const refused = await eventually("new requests refused", async () => {
        const r = await fetch(`${sc.url}/new`).then(
          (res) => res.status,
          () => "refused" as const,
        );
        return r === 503 || r === "refused" ? r : undefined;
      });
      expect(["refused", 503]).toContain(refused);
      // Still draining: the five are held at the app until now.
      expect(sc.process.running).toBe(true);
      expect(await app.release()).toBe(5);
      expect(await Promise.all(inflight)).toEqual([200, 200, 200, 200, 200]);
      await stopped;
      expect(sc.process.running).toBe(false);
      await eventually("exit logged", () =>
        Promise.resolve(sc.process.tail().includes("exited code=0") ? true : undefined),
      );
    } finally {
      await sc.process.stop();
      await app.process.stop();
    }
  });
});
