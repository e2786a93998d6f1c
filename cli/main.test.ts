import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { betweenMarkers, tableCells } from "../devenv/markdown.ts";
import { exitCodeTableMarkdown, flagTableMarkdown, helpText, split } from "./main.ts";

describe("veltrix command", () => {
  const doc = readFileSync(new URL("../docs/cli.md", import.meta.url), "utf8");

  it("docs/cli.md lists every flag with its env variable and default", () => {
    expect(
      tableCells(betweenMarkers(doc, "flags")),
      "docs/cli.md: paste flagTableMarkdown() between the flags markers",
    ).toEqual(tableCells(flagTableMarkdown()));
  });

  it("docs/cli.md lists every exit code", () => {
    expect(
      tableCells(betweenMarkers(doc, "exit-codes")),
      "docs/cli.md: paste exitCodeTableMarkdown()",
    ).toEqual(tableCells(exitCodeTableMarkdown()));
  });

  it("--help names every flag and command", () => {
    const help = helpText();
    for (const command of ["validate", "status", "request", "up"]) expect(help).toContain(`  ${command} `);
    for (const [, flag] of flagTableMarkdown().matchAll(/`--([a-z-]+)/g)) expect(help).toContain(`--${flag}`);
  });

  it("reads short forms, switches and values apart from positional arguments", () => {
    expect(split(["status", "-n", "shop", "-A", "web", "-o=json", "--nats-url", "nats://x:4222"])).toEqual({
      flags: ["--namespace=shop", "--all-namespaces", "--output=json", "--nats-url=nats://x:4222"],
      args: ["status", "web"],
    });
    expect(split(["request", "id-1", "--admin=http://a:1", "--nats-tls", "x"])).toEqual({
      flags: ["--admin=http://a:1", "--nats-tls"],
      args: ["request", "id-1", "x"],
    });
  });
});
