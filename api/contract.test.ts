import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  configBucket,
  consumerName,
  deadLetterSubject,
  inboxPrefix,
  outcomeBucketName,
  queueSubjectPrefix,
  replyPrefix,
  sidecarNatsPermissions,
  sidecarStatusBucket,
  streamName,
} from "./contract.ts";

/** NATS subject matching: `*` one token, `>` the rest (one or more tokens). */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

describe("sidecar NATS permissions", () => {
  it("are what docs/install.md shows for shop/checkout", () => {
    const doc = readFileSync(join(import.meta.dirname, "../docs/install.md"), "utf8");
    const section = doc.slice(doc.indexOf("### Least NATS permissions for sidecars"));
    const block = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(block, "the json block of the section").toBeDefined();
    const p = sidecarNatsPermissions({ namespace: "shop", name: "checkout" });
    expect(JSON.parse(block ?? "{}")).toEqual({
      publish: { allow: p.publish },
      subscribe: { allow: p.subscribe },
    });
  });

  it("name only the config's own stream and outcome bucket", () => {
    const p = sidecarNatsPermissions({ namespace: "shop", name: "checkout" }).publish.join("\n");
    expect(p).toContain(streamName({ namespace: "shop", name: "checkout" }));
    expect(p).toContain(outcomeBucketName({ namespace: "shop", name: "checkout" }));
    expect(p).not.toMatch(/VX_shop_(?!checkout)/);
    expect(p).not.toMatch(/\$JS\.API\.>|\$JS\.API\.STREAM\.CREATE\.VX_|\$JS\.API\.CONSUMER\.CREATE\.VX_/);
  });
});

describe("tenancy of the sidecar's subjects", () => {
  const mine = { namespace: "shop", name: "checkout" };
  /** Subjects carrying another config's traffic: requests, replies, JetStream answers, acks, outcomes, config. */
  const traffic = (ref: { namespace: string; name: string }): string[] => [
    `${queueSubjectPrefix(ref)}.sync`,
    `${queueSubjectPrefix(ref)}.async`,
    deadLetterSubject(ref),
    `${inboxPrefix(ref)}.AbCdEf123`,
    `${inboxPrefix(ref)}.AbCdEf123.7`,
    `${replyPrefix(ref)}.0a1b2c3d.req-1`,
    `$JS.ACK.${streamName(ref)}.${consumerName}.1.2.3.4.5`,
    `$JS.API.CONSUMER.MSG.NEXT.${streamName(ref)}.${consumerName}`,
    `$JS.API.STREAM.INFO.${streamName(ref)}`,
    `$KV.${outcomeBucketName(ref)}.${ref.namespace}.${ref.name}.req-1`,
    `$KV.${configBucket}.${ref.namespace}.${ref.name}`,
    `$KV.${sidecarStatusBucket}.${ref.namespace}.${ref.name}.pod-1`,
    "_INBOX.AbCdEf123",
  ];

  it("match none of another config's traffic, in this namespace or another", () => {
    const p = sidecarNatsPermissions(mine);
    for (const other of [
      { namespace: "bank", name: "pay" },
      { namespace: "shop", name: "orders" },
      { namespace: "shop-checkout", name: "x" },
    ]) {
      for (const subject of traffic(other)) {
        for (const pattern of [...p.publish, ...p.subscribe])
          expect(matches(pattern, subject), `${pattern} matches ${subject}`).toBe(false);
      }
    }
  });

  it("cover the config's own inboxes and replies (the check above can fail)", () => {
    const p = sidecarNatsPermissions(mine);
    const own = traffic(mine).filter((s) => s.startsWith("_VX."));
    for (const subject of own)
      expect(
        p.subscribe.some((pattern) => matches(pattern, subject)),
        subject,
      ).toBe(true);
    expect(p.publish.some((pattern) => matches(pattern, `${replyPrefix(mine)}.0a1b2c3d.req-1`))).toBe(true);
  });
});
