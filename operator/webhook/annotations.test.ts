import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { annotationTable, parseAnnotations, renderAnnotationTable } from "./annotations.ts";

const readmePath = fileURLToPath(new URL("../../README.md", import.meta.url));
const begin = "<!-- annotation-table:begin (generated from operator/webhook/annotations.ts) -->";
const end = "<!-- annotation-table:end -->";

/** Cells trimmed and separator rows dropped, so Prettier's column padding does not count as drift. */
function normalizeTable(markdown: string): string {
  return markdown
    .trim()
    .split("\n")
    .filter((line) => !/^\|[\s|:-]+\|$/.test(line))
    .map((line) =>
      line
        .split("|")
        .map((cell) => cell.trim())
        .join("|"),
    )
    .join("\n");
}

describe("annotation table", () => {
  it("every default parses", () => {
    for (const spec of Object.values(annotationTable)) {
      if (spec.default !== undefined) expect(spec.parse(spec.default).ok, spec.key).toBe(true);
    }
  });

  it("layers defaults → config → namespace → pod", () => {
    const ns = {
      name: "shop",
      annotations: { "veltrix.io/store-size": "3Gi", "veltrix.io/proxy-port": "16000" },
    };
    const { values, errors } = parseAnnotations({ "veltrix.io/proxy-port": "17000" }, ns, {
      storeSize: "2Gi",
      adminPort: "15100",
    });
    expect(errors).toEqual([]);
    expect(values.storeSize).toBe("3Gi");
    expect(values.proxyPort).toBe(17000);
    expect(values.adminPort).toBe(15100);
    expect(values.configMountPath).toBe("/etc/veltrix");
    expect(values.appPort).toBeUndefined();
  });

  it("ignores pod-only keys on the namespace", () => {
    const { values } = parseAnnotations({}, { name: "n", annotations: { "veltrix.io/app-port": "9" } });
    expect(values.appPort).toBeUndefined();
  });

  it("gathers every error with value, key and reason", () => {
    const { errors } = parseAnnotations(
      {
        "veltrix.io/app-port": "99999",
        "veltrix.io/drain-seconds": "-1",
        "veltrix.io/config-mount-path": "rel",
      },
      { name: "team-a", annotations: { "veltrix.io/sidecar-cpu": "fast" } },
    );
    expect(errors).toEqual([
      "invalid value '99999' for annotation 'veltrix.io/app-port': must be a port number from 1 to 65535",
      "invalid value 'fast' for annotation 'veltrix.io/sidecar-cpu' on namespace 'team-a': must be a Kubernetes quantity such as 500m, 128Mi or 1Gi",
      "invalid value 'rel' for annotation 'veltrix.io/config-mount-path': must be an absolute path without ':' or '..'",
      "invalid value '-1' for annotation 'veltrix.io/drain-seconds': must be whole seconds from 0 to 3600",
    ]);
  });

  it("parses port references by number and by name", () => {
    expect(annotationTable.appPort.parse("8080")).toEqual({
      ok: true,
      value: { kind: "number", port: 8080 },
    });
    expect(annotationTable.appPort.parse("http")).toEqual({
      ok: true,
      value: { kind: "name", name: "http" },
    });
    expect(annotationTable.appPort.parse("a-very-long-port-name").ok).toBe(false);
    expect(annotationTable.appPort.parse("0").ok).toBe(false);
  });

  it("matches the README's table (UPDATE_GOLDEN=1 rewrites it)", () => {
    const readme = readFileSync(readmePath, "utf8");
    const start = readme.indexOf(begin);
    const stop = readme.indexOf(end);
    expect(start, `README.md lacks the marker ${begin}`).toBeGreaterThanOrEqual(0);
    expect(stop).toBeGreaterThan(start);
    const current = normalizeTable(readme.slice(start + begin.length, stop));
    const wanted = renderAnnotationTable();
    if (process.env["UPDATE_GOLDEN"] === "1" && current !== normalizeTable(wanted)) {
      writeFileSync(readmePath, `${readme.slice(0, start + begin.length)}\n${wanted}\n${readme.slice(stop)}`);
      return;
    }
    expect(current, "README annotation table drifted: run UPDATE_GOLDEN=1 vitest run operator/webhook").toBe(
      normalizeTable(wanted),
    );
  });
});
