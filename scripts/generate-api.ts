// Generates api/types.generated.ts, docs/crd.md and README's field table from crds/veltrixconfig.yaml,
// the single source of truth. `node scripts/generate-api.ts` writes them;
// `--check` exits 1 when they are stale (generate.test.ts does the same in CI).
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export interface JsonSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-validations"?: { rule: string; message?: string; fieldPath?: string }[];
}

export const repoRoot = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
export const crdPath = `${repoRoot}/crds/veltrixconfig.yaml`;
export const typesPath = `${repoRoot}/api/types.generated.ts`;
export const docsPath = `${repoRoot}/docs/crd.md`;
export const readmePath = `${repoRoot}/README.md`;
const readmeBegin =
  "<!-- crd-fields:begin (generated from crds/veltrixconfig.yaml by scripts/generate-api.ts) -->";
const readmeEnd = "<!-- crd-fields:end -->";

interface CrdDoc {
  spec: {
    names: { kind: string; shortNames?: string[]; plural: string };
    group: string;
    versions: {
      name: string;
      schema: { openAPIV3Schema: JsonSchema };
      additionalPrinterColumns?: { name: string; jsonPath: string; description?: string }[];
    }[];
  };
}

export function loadCrd(text = readFileSync(crdPath, "utf8")): CrdDoc {
  return parse(text) as CrdDoc;
}

export function rootSchema(crd: CrdDoc): JsonSchema {
  const v = crd.spec.versions[0];
  if (!v) throw new Error("CRD has no versions");
  return v.schema.openAPIV3Schema;
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function hasDefault(s: JsonSchema): boolean {
  return s.default !== undefined;
}

// ---- TypeScript types -------------------------------------------------------------

function renderTypesFrom(root: JsonSchema, kind: string): string {
  const out: string[] = [];
  const emitted = new Set<string>();

  // resolved: fields with defaults are required (the API server always fills them).
  function typeOf(s: JsonSchema, name: string, resolved: boolean): string {
    if (s["x-kubernetes-int-or-string"]) return "number | string";
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
    switch (s.type) {
      case "string":
        return "string";
      case "integer":
      case "number":
        return "number";
      case "boolean":
        return "boolean";
      case "array":
        return `${wrap(typeOf(s.items ?? {}, `${name}Item`, resolved))}[]`;
      case "object":
        if (s.properties) {
          emitInterface(s, name, resolved);
          return resolved ? `${name}Resolved` : name;
        }
        if (s.additionalProperties && typeof s.additionalProperties === "object")
          return `Record<string, ${typeOf(s.additionalProperties, `${name}Value`, resolved)}>`;
        return "Record<string, unknown>";
      case undefined:
      default:
        return "unknown";
    }
  }
  const wrap = (t: string): string => (t.includes("|") ? `(${t})` : t);

  function emitInterface(s: JsonSchema, name: string, resolved: boolean): void {
    const id = resolved ? `${name}Resolved` : name;
    if (emitted.has(id)) return;
    emitted.add(id);
    const lines: string[] = [];
    if (s.description) lines.push(`/** ${s.description.replace(/\*\//g, "*\\/")} */`);
    lines.push(`export interface ${id} {`);
    for (const [key, prop] of Object.entries(s.properties ?? {})) {
      if (key === "metadata" && name === kind) {
        lines.push("  metadata?: V1ObjectMeta;");
        continue;
      }
      const required = (s.required ?? []).includes(key) || (resolved && hasDefault(prop));
      const t = typeOf(prop, `${name}${pascal(key)}`, resolved);
      if (prop.description) lines.push(`  /** ${prop.description.replace(/\*\//g, "*\\/")} */`);
      lines.push(`  ${key}${required ? "" : "?"}: ${t};`);
    }
    lines.push("}", "");
    out.push(lines.join("\n"));
  }

  emitInterface(root, kind, false);
  const spec = root.properties?.["spec"];
  if (spec) typeOf(spec, `${kind}Spec`, true);
  return out.reverse().join("\n");
}

function defaultsOf(s: JsonSchema): unknown {
  if (s.type === "object" && s.properties && hasDefault(s)) {
    const obj: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(s.properties)) {
      const d = defaultsOf(p);
      if (d !== undefined) obj[k] = d;
    }
    return obj;
  }
  return s.default;
}

export function renderTypes(crd: CrdDoc): string {
  const kind = crd.spec.names.kind;
  const root = rootSchema(crd);
  const spec = root.properties?.["spec"] ?? {};
  return [
    "// GENERATED from crds/veltrixconfig.yaml by scripts/generate-api.ts. Do not edit;",
    "// run `scripts/with-node24 node scripts/generate-api.ts` after changing the CRD.",
    'import type { V1ObjectMeta } from "@kubernetes/client-node";',
    "",
    renderTypesFrom(root, kind),
    `/** The defaults the API server applies to spec (from the CRD schema). */`,
    `export const specDefaults = ${JSON.stringify(defaultsOf(spec), null, 2)} as const;`,
    "",
  ].join("\n");
}

// ---- Markdown reference -----------------------------------------------------------

function typeLabel(s: JsonSchema): string {
  if (s["x-kubernetes-int-or-string"]) return "int or string";
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(", ");
  if (s.type === "array") return `[]${s.items ? typeLabel(s.items) : "any"}`;
  if (s.type === "object" && !s.properties && typeof s.additionalProperties === "object")
    return `map[string]${typeLabel(s.additionalProperties)}`;
  // A duration is a string whose own rule checks the Go duration format (crds/veltrixconfig.yaml).
  const isDuration = (s["x-kubernetes-validations"] ?? []).some((v) => v.rule.includes("(ms|s|m|h)"));
  if (s.type === "string" && isDuration) return "duration";
  return s.type ?? "any";
}

function cell(text: string): string {
  return text.replace(/\s+/g, " ").replace(/\|/g, "\\|").trim();
}

export function renderDocs(crd: CrdDoc): string {
  const root = rootSchema(crd);
  const rows: string[] = [];
  const rules: string[] = [];
  function walk(s: JsonSchema, path: string, required: boolean): void {
    if (path) {
      const limits: string[] = [];
      if (s.minimum !== undefined) limits.push(`min ${s.minimum}`);
      if (s.maximum !== undefined) limits.push(`max ${s.maximum}`);
      if (s.maxItems !== undefined) limits.push(`at most ${s.maxItems} items`);
      if (s.maxProperties !== undefined) limits.push(`at most ${s.maxProperties} keys`);
      const def = s.default === undefined ? "" : `\`${JSON.stringify(s.default).replace(/^"(.*)"$/, "$1")}\``;
      const desc = [s.description ?? "", required ? "Required." : "", limits.join(", ")]
        .filter(Boolean)
        .join(" ");
      rows.push(`| \`${path}\` | ${cell(typeLabel(s))} | ${def} | ${cell(desc)} |`);
    }
    for (const v of s["x-kubernetes-validations"] ?? [])
      rules.push(
        `| \`${[path, v.fieldPath?.replace(/^\./, "")].filter(Boolean).join(".") || "(object)"}\` | ${cell(v.message ?? v.rule)} |`,
      );
    const childBase = path ? `${path}.` : "";
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      if (!path && ["apiVersion", "kind", "metadata"].includes(k)) continue;
      walk(p, `${childBase}${k}`, (s.required ?? []).includes(k));
    }
    if (s.type === "array" && s.items) walk(s.items, `${path}[]`, false);
  }
  walk(root, "", false);
  const version = crd.spec.versions[0];
  const columns = (version?.additionalPrinterColumns ?? [])
    .map((c) => `| ${c.name} | \`${c.jsonPath}\` | ${cell(c.description ?? "")} |`)
    .join("\n");
  return [
    "<!-- GENERATED from crds/veltrixconfig.yaml by scripts/generate-api.ts; do not edit. -->",
    "# VeltrixConfig reference",
    "",
    `\`${crd.spec.names.plural}.${crd.spec.group}\`, version \`${version?.name ?? ""}\`, namespaced, short name \`${(crd.spec.names.shortNames ?? []).join(", ")}\`.`,
    "Samples: [`crds/samples/`](../crds/samples/). `kubectl explain vxc.spec.queue` shows the same text.",
    "",
    cell(root.description ?? ""),
    "",
    "Durations are Go durations (`500ms`, `30s`, `5m`, `1h30m`).",
    "",
    "## Fields",
    "",
    "| field | type | default | description |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
    "## Validation rules (checked by the API server)",
    "",
    "Each message names the field it is about (the rule's `fieldPath` where it checks several).",
    "A value of the wrong type is refused by the schema's type check, which names the field and",
    'the type it got: `spec.config.retries: Invalid value: "integer": ... must be of type string`',
    "(quote numbers and booleans in `spec.config`, `overrides[].config` and `match.headers`).",
    "",
    "| on | message |",
    "| --- | --- |",
    ...rules,
    "",
    "## `kubectl get vxc` columns",
    "",
    "| column | from | description |",
    "| --- | --- | --- |",
    columns,
    "",
  ].join("\n");
}

/** README's field table: spec fields three levels deep with their descriptions. */
export function renderReadmeFields(crd: CrdDoc): string {
  const rows: string[] = [];
  const walk = (s: JsonSchema, path: string, depth: number): void => {
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      const child = `${path}.${k}`;
      const first = (p.description ?? "").replace(/\s+/g, " ");
      const def =
        p.default === undefined || typeof p.default === "object"
          ? ""
          : `\`${JSON.stringify(p.default).replace(/^"(.*)"$/, "$1")}\``;
      rows.push(`| \`${child}\` | ${cell(typeLabel(p))} | ${def} | ${cell(first)} |`);
      if (depth < 3 && p.properties) walk(p, child, depth + 1);
    }
  };
  const spec = rootSchema(crd).properties?.["spec"];
  if (spec) walk(spec, "spec", 1);
  return [
    "| field | type | default | meaning |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
    "Every field, with limits and the validation messages: [`docs/crd.md`](docs/crd.md).",
  ].join("\n");
}

/** README with its crd-fields region replaced by `table`. */
export function spliceReadme(readme: string, table: string): string {
  const i = readme.indexOf(readmeBegin);
  const j = readme.indexOf(readmeEnd);
  if (i < 0 || j < i) throw new Error(`README.md lacks the ${readmeBegin} ... ${readmeEnd} markers`);
  return `${readme.slice(0, i + readmeBegin.length)}\n\n${table.trim()}\n\n${readme.slice(j)}`;
}

/** The generated files, formatted as `npm run check` expects. */
export async function generated(): Promise<{ path: string; text: string }[]> {
  const { format } = await import("prettier"); // dev-time only; keeps prettier out of the operator's imports
  const crd = loadCrd();
  const opts = { printWidth: 110 };
  return [
    { path: typesPath, text: await format(renderTypes(crd), { ...opts, parser: "typescript" }) },
    { path: docsPath, text: await format(renderDocs(crd), { ...opts, parser: "markdown" }) },
    {
      path: readmePath,
      text: spliceReadme(
        readFileSync(readmePath, "utf8"),
        await format(renderReadmeFields(crd), { ...opts, parser: "markdown" }),
      ),
    },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const { path, text } of await generated()) {
    let current = "";
    try {
      current = readFileSync(path, "utf8");
    } catch {
      // missing counts as stale
    }
    if (current === text) continue;
    if (check) {
      console.error(`stale: ${path} (run node scripts/generate-api.ts)`);
      stale++;
    } else {
      writeFileSync(path, text);
      console.log(`wrote ${path}`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
