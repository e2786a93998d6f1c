import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { outcomeBucketName, sidecarNatsPermissions, streamName } from "./contract.ts";

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
