// `veltrix validate`: a VeltrixConfig checked offline the way the API server checks it —
// defaults applied, then the CRD's structural schema (types, enums, bounds, unknown
// fields, list-map keys), then, only when that passed (as the API server does), every
// CEL rule of the CRD with a real CEL implementation. Problems are named as the API
// server names them: the field, then the message. Given the object as it is now in the
// cluster (`old`), the check is an update's: transition rules (those naming oldSelf) run
// too, where the field exists in both, as the API server runs them. Pure apart from
// reading the CRD.
import { readFileSync } from "node:fs";
import { evaluate } from "@marcbachmann/cel-js";
import { parse } from "yaml";

export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  default?: unknown;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: { rule: string; message?: string; fieldPath?: string }[];
}

export interface Problem {
  /** The field, as the API server names it (spec.queue.maxWait, spec.overrides[1]). */
  field: string;
  message: string;
}

const crdUrl = new URL("../crds/veltrixconfig.yaml", import.meta.url);

/** The VeltrixConfig schema of the CRD (crds/veltrixconfig.yaml, or `path`). */
export function loadSchema(path: string | URL = crdUrl): Schema {
  const crd = parse(readFileSync(path, "utf8")) as {
    spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
  };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

/** Fills schema defaults in place, as the API server does before validating. */
function applyDefaults(schema: Schema, value: Json): void {
  if (isObject(value)) {
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      if (value[key] === undefined && child.default !== undefined) {
        value[key] = structuredClone(child.default) as Json;
      }
      if (value[key] !== undefined) applyDefaults(child, value[key]);
    }
    const extra = schema.additionalProperties;
    if (typeof extra === "object") for (const v of Object.values(value)) applyDefaults(extra, v);
  } else if (Array.isArray(value) && schema.items) {
    for (const item of value) applyDefaults(schema.items, item);
  }
}

function typeMatches(schema: Schema, value: unknown): boolean {
  const got = jsonType(value);
  if (schema["x-kubernetes-int-or-string"]) return got === "integer" || got === "string";
  if (schema.type === undefined) return true;
  if (schema.type === "number") return got === "number" || got === "integer";
  return got === schema.type;
}

function checkSchema(schema: Schema, value: Json, path: string, out: Problem[]): void {
  if (!typeMatches(schema, value)) {
    const got = jsonType(value);
    out.push({
      field: path,
      message: `Invalid value: "${got}": ${path} in body must be of type ${schema.type}: "${got}"`,
    });
    return;
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) {
    const supported = schema.enum.map((e) => JSON.stringify(e)).join(", ");
    out.push({
      field: path,
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported}`,
    });
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum)
      out.push({
        field: path,
        message: `Invalid value: ${value}: ${path} in body should be greater than or equal to ${schema.minimum}`,
      });
    if (schema.maximum !== undefined && value > schema.maximum)
      out.push({
        field: path,
        message: `Invalid value: ${value}: ${path} in body should be less than or equal to ${schema.maximum}`,
      });
  }
  if (typeof value === "string") {
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength)
      out.push({ field: path, message: `Too long: may not be more than ${schema.maxLength} bytes` });
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
      out.push({
        field: path,
        message: `Invalid value: ${JSON.stringify(value)}: ${path} in body should match '${schema.pattern}'`,
      });
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      out.push({
        field: path,
        message: `Too many: ${value.length}: must have at most ${schema.maxItems} items`,
      });
    const keys = schema["x-kubernetes-list-map-keys"];
    const seen = new Set<string>();
    value.forEach((item, i) => {
      if (schema.items) checkSchema(schema.items, item, `${path}[${i}]`, out);
      if (schema["x-kubernetes-list-type"] === "map" && keys && isObject(item)) {
        const key = JSON.stringify(keys.map((k) => item[k]));
        if (seen.has(key)) out.push({ field: `${path}[${i}]`, message: `Duplicate value: ${key}` });
        seen.add(key);
      }
    });
  }
  if (isObject(value)) {
    const entries = Object.entries(value);
    if (schema.maxProperties !== undefined && entries.length > schema.maxProperties)
      out.push({
        field: path,
        message: `Too many: ${entries.length}: must have at most ${schema.maxProperties} items`,
      });
    for (const key of schema.required ?? [])
      if (value[key] === undefined) out.push({ field: `${path}.${key}`, message: "Required value" });
    const extra = schema.additionalProperties;
    for (const [key, child] of entries) {
      const childPath = path ? `${path}.${key}` : key;
      const spec = schema.properties?.[key] ?? (typeof extra === "object" ? extra : undefined);
      if (spec) checkSchema(spec, child, childPath, out);
      else if (!schema["x-kubernetes-preserve-unknown-fields"] && schema.properties && !(path === "metadata"))
        out.push({ field: childPath, message: `unknown field "${childPath}"` });
    }
  }
}

/** The value as CEL sees it: integers of integer fields as int (bigint), the rest as is. */
function celValue(schema: Schema | undefined, value: Json): unknown {
  if (typeof value === "number" && schema?.type === "integer") return BigInt(value);
  if (Array.isArray(value)) return value.map((v) => celValue(schema?.items, v));
  if (isObject(value)) {
    const extra = schema?.additionalProperties;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        celValue(schema?.properties?.[k] ?? (typeof extra === "object" ? extra : undefined), v),
      ]),
    );
  }
  return value;
}

/**
 * `old`: the same field in the stored object, on an update; undefined on a create, or
 * where the field is new (then, as in the API server, its transition rules do not run).
 */
function checkRules(schema: Schema, value: Json, path: string, out: Problem[], old?: Json): void {
  for (const rule of schema["x-kubernetes-validations"] ?? []) {
    const transition = rule.rule.includes("oldSelf");
    if (transition && old === undefined) continue;
    const field = [path, rule.fieldPath?.replace(/^\./, "")].filter(Boolean).join(".");
    const message = (rule.message ?? `failed rule: ${rule.rule}`).replace(/\s+/g, " ").trim();
    const vars = {
      self: celValue(schema, value),
      ...(transition && old !== undefined && { oldSelf: celValue(schema, old) }),
    };
    try {
      if (evaluate(rule.rule, vars) !== true) {
        out.push({
          field,
          message: `Invalid value: ${rule.fieldPath ? `"${jsonType(value)}"` : `"object"`}: ${message}`,
        });
      }
    } catch (err) {
      out.push({
        field,
        message: `Invalid value: "object": ${(err as Error).message} evaluating rule: ${message}`,
      });
    }
  }
  // List items are not paired with the stored ones (the API server pairs them only in
  // map and set lists, which hold no transition rules here).
  if (Array.isArray(value) && schema.items)
    value.forEach((v, i) => checkRules(schema.items!, v, `${path}[${i}]`, out));
  if (isObject(value)) {
    const extra = schema.additionalProperties;
    for (const [key, child] of Object.entries(value)) {
      const spec = schema.properties?.[key] ?? (typeof extra === "object" ? extra : undefined);
      const before = isObject(old) ? old[key] : undefined;
      if (spec) checkRules(spec, child, path ? `${path}.${key}` : key, out, before);
    }
  }
}

/** The object as the API server stores it: spec present, defaults filled. Undefined if not an object. */
function withDefaults(schema: Schema, object: unknown): Record<string, Json> | undefined {
  const copy = structuredClone(object) as Json;
  if (!isObject(copy)) return undefined;
  copy["spec"] ??= {};
  applyDefaults(schema, copy);
  return copy;
}

/**
 * Every problem the API server would report for creating `object` (or, given `old`, the
 * stored object, for updating it to `object`); empty when it would accept it.
 */
export function validateVeltrixConfig(
  object: unknown,
  schema: Schema = loadSchema(),
  old?: unknown,
): Problem[] {
  const copy = withDefaults(schema, object);
  if (!copy) return [{ field: "<root>", message: "a VeltrixConfig must be a YAML or JSON object" }];
  const problems: Problem[] = [];
  checkSchema(schema, copy, "", problems);
  // The API server runs the CEL rules only on a schema-valid object.
  if (problems.length === 0)
    checkRules(schema, copy, "", problems, old === undefined ? undefined : withDefaults(schema, old));
  return problems;
}
