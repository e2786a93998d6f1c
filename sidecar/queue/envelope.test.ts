import { headers as natsHeaders } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { jobHeaders, readJob, readResult, resultHeaders, wireHeaders, type QueuedJob } from "./envelope.ts";

const job: QueuedJob = {
  id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
  revision: "7",
  configKey: "abc123",
  method: "POST",
  path: "/orders?x=1",
  headers: { "content-type": "application/json", "x-multi": ["a", "b"], "x-crlf": "no\r\nsmuggling" },
  receivedAt: 1_764_000_000_000,
  reply: "_VX.r.1234.0190a1b2",
  deadline: 1_764_000_030_000,
};

function withJob(raw: string): ReturnType<typeof natsHeaders> {
  const h = natsHeaders();
  h.set(wireHeaders.job, raw);
  return h;
}

describe("queue wire format", () => {
  it("carries a job in one header and reads it back unchanged (CR/LF in values stay escaped)", () => {
    const h = jobHeaders(job);
    expect([...h.keys()]).toEqual([wireHeaders.job]);
    expect(readJob(h)).toEqual({ v: 1, ...job });
  });

  it("says why a message is not a job of this wire version", () => {
    const ok = JSON.parse(jobHeaders(job).get(wireHeaders.job)) as Record<string, unknown>;
    const cases: [string, ReturnType<typeof natsHeaders> | undefined][] = [
      ["no Vx-Job header", undefined],
      ["no Vx-Job header", natsHeaders()],
      ["Vx-Job is not JSON", withJob("{oops")],
      ["Vx-Job is not an object", withJob("42")],
      ["Vx-Job version 2, this sidecar reads 1", withJob(JSON.stringify({ ...ok, v: 2 }))],
      ["Vx-Job.path missing", withJob(JSON.stringify({ ...ok, path: 3 }))],
      ["Vx-Job.id is empty", withJob(JSON.stringify({ ...ok, id: "" }))],
      ["Vx-Job.receivedAt missing", withJob(JSON.stringify({ ...ok, receivedAt: "soon" }))],
      ["Vx-Job.headers missing", withJob(JSON.stringify({ ...ok, headers: null }))],
      ["Vx-Job.reply is not a subject", withJob(JSON.stringify({ ...ok, reply: 7 }))],
      ["Vx-Job.deadline is not a time", withJob(JSON.stringify({ ...ok, deadline: "later" }))],
    ];
    for (const [why, h] of cases) expect(readJob(h)).toEqual({ malformed: why });
  });

  it("carries a result in one header; a reply without a readable one is a bad gateway", () => {
    const r = { status: 201, headers: { location: "/orders/1" } };
    expect(readResult(resultHeaders(r))).toEqual(r);
    expect(readResult(resultHeaders({ event: "started" }))).toEqual({ event: "started" });
    expect(readResult(undefined)).toEqual({ error: "VX_ERR_UPSTREAM_UNAVAILABLE" });
    const bad = natsHeaders();
    bad.set(wireHeaders.result, "not json");
    expect(readResult(bad)).toEqual({ error: "VX_ERR_UPSTREAM_UNAVAILABLE" });
  });
});
