// The HTTP fidelity suite (issue 15): every case of fidelity/cases.ts, as raw bytes, against
// a third-party app (go-httpbin) directly, through HAProxy and through the sidecar in each
// mode; each target must answer as the case says (the app's answer, a proxy's refusal, or a
// mode's documented difference). After each group, the sidecars' file descriptors and
// resident memory must come back near where they were before it.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../devenv/tools.ts";
import { eventually, natsUrl, tempDir } from "../harness/env.ts";
import type { Sidecar } from "./helpers.ts";
import { groups } from "./fidelity/cases.ts";
import { differences, expectedAnswer, run } from "./fidelity/compare.ts";
import { exchange, type RawExchange } from "./fidelity/raw-http.ts";
import {
  modes,
  startHaproxy,
  startHttpbin,
  startModeSidecar,
  usage,
  type Mode,
  type Started,
  type Target,
  type Usage,
} from "./fidelity/targets.ts";

/** Descriptors a group may leave open: idle keep-alive connections to the app come and go. */
const fdSlack = 4;
/** Resident memory a group may leave behind: the heap grows in steps and GC returns it late. */
const rssSlackBytes = 96 * 1024 * 1024;

let app: Started;
let haproxy: Started;
const sidecars = {} as Record<Mode, Sidecar>;

beforeAll(async () => {
  const dir = tempDir("http-fidelity");
  app = await startHttpbin(dir);
  haproxy = await startHaproxy(dir, app.port);
  await Promise.all(
    modes.map(async (m) => {
      sidecars[m] = await startModeSidecar(dir, m, app.port, natsUrl());
    }),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(modes.map((m) => sidecars[m]?.process.stop()));
  await haproxy?.process.stop();
  await app?.process.stop();
});

function portOf(target: Target): number {
  if (target === "app") return app.port;
  if (target === "haproxy") return haproxy.port;
  return sidecars[target].port;
}

function pidOf(mode: Mode): number {
  const pid = sidecars[mode].process.pid;
  if (pid === undefined) throw new Error(`sidecar ${mode} is not running`);
  return pid;
}

const targets: Target[] = ["app", "haproxy", ...modes];

describe("HTTP fidelity: go-httpbin directly, through HAProxy, through the sidecar in each mode", () => {
  for (const group of groups) {
    it(`${group.name}: every target answers as the case says; the sidecars' fds and RSS come back`, async () => {
      const before = Object.fromEntries(modes.map((m) => [m, usage(pidOf(m))])) as Record<Mode, Usage>;
      const problems: string[] = [];
      for (const c of group.cases) {
        const got = await Promise.all(targets.map((t) => run(c, portOf(t))));
        const appGot = got[0] as RawExchange;
        targets.forEach((t, i) => {
          for (const p of differences(c, t, got[i] as RawExchange, appGot))
            problems.push(`${c.name} → ${t}: ${p}`);
        });
      }
      expect(problems).toEqual([]);
      for (const m of modes) {
        await eventually(`sidecar ${m}'s fds and RSS back near ${JSON.stringify(before[m])}`, () => {
          const now = usage(pidOf(m));
          const back =
            now.fds <= before[m].fds + fdSlack && now.rssBytes <= before[m].rssBytes + rssSlackBytes;
          return Promise.resolve(back ? true : undefined);
        });
      }
    }, 180_000);
  }

  it("a WebSocket upgrade through direct has its record: done with the app's 101 once closed", async () => {
    const id = `fidelity-ws-${randomBytes(4).toString("hex")}`;
    const handshake =
      `GET /websocket/echo HTTP/1.1\r\nHost: fidelity.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nx-veltrix-request-id: ${id}\r\n\r\n`;
    const got = await exchange(sidecars.direct.port, Buffer.from(handshake), {
      responses: 1,
      methods: ["GET"],
    });
    expect(got.responses.map((r) => r.status)).toEqual([101]);
    await eventually("the upgrade's record done", async () => {
      const r = await fetch(`${sidecars.direct.admin}/v1/requests/${id}`);
      const rec = r.ok
        ? ((await r.json()) as { record: { state: string; status?: number } }).record
        : undefined;
      return rec?.state === "done" && rec.status === 101 ? true : undefined;
    });
  });

  it("a queued sidecar whose maxBodyBytes does not fit NATS's max_payload says so in /readyz", async () => {
    const ready = (await (await fetch(`${sidecars.sync.admin}/readyz`)).json()) as { warnings?: string[] };
    expect(ready.warnings?.join()).toContain("exceeds NATS's max_payload");
  });

  it("every documented difference in the cases has its row in docs/sidecar.md, and every row a case", () => {
    const doc = readFileSync(join(repoRoot, "docs/sidecar.md"), "utf8");
    const section =
      doc.split("## How the sidecar differs from a direct connection")[1]?.split("\n## ")[0] ?? "";
    const rows = new Set([...section.matchAll(/^\| `([a-z0-9-]+)`\s*\|/gm)].map((m) => m[1] ?? ""));
    const used = new Set(
      groups.flatMap((g) =>
        g.cases.flatMap((c) => [
          ...Object.values(c.differs ?? {}).map((d) => d.row),
          ...(c.row ? [c.row] : []),
          ...Object.values(c.has ?? {}).flatMap((b) => (b.row ? [b.row] : [])),
          // async's 202 for what it forwards (fidelity/compare.ts).
          ...(expectedAnswer(c, "async").answer === "202" ? ["async-accepted"] : []),
        ]),
      ),
    );
    expect([...used].filter((r) => !rows.has(r))).toEqual([]);
    expect([...rows].filter((r) => !used.has(r))).toEqual([]);
  });
});
