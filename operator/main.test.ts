import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { flagTableMarkdown, readFlags } from "./main.ts";
import { betweenMarkers, tableCells } from "../devenv/markdown.ts";

describe("operator flags", () => {
  it("docs/operator.md lists every flag with its env variable and default", () => {
    const doc = readFileSync(new URL("../docs/operator.md", import.meta.url), "utf8");
    const table = betweenMarkers(doc, "flags");
    expect(
      tableCells(table),
      "docs/operator.md: paste flagTableMarkdown() between the flags markers",
    ).toEqual(tableCells(flagTableMarkdown()));
  });

  it("takes flags over env over defaults", () => {
    const f = readFlags(["--nats-url", "nats://a:1"], {
      VELTRIX_NATS_URL: "nats://b:2",
      VELTRIX_WORKERS: "7",
    });
    expect(f["nats-url"]).toBe("nats://a:1");
    expect(f.workers).toBe("7");
    expect(f["lease-duration"]).toBe("15s");
    expect(f.identity).toMatch(/-\d+$/);
    expect(() => readFlags(["--no-such-flag"], {})).toThrow(/Unknown option/);
  });
});
