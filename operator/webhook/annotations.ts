// The one annotation table: key, parser, default and doc for every `veltrix.io/*`
// key an app team may set. Parsing goes built-in defaults → cluster (chart) defaults →
// VeltrixConfig → namespace annotations → pod annotations, and gathers every problem as
// "invalid value 'x' for annotation 'y': why" instead of stopping at the first.
// The README's table is rendered from this file (see annotations.test.ts).

import { annotations as apiAnnotations } from "../../api/contract.ts";
import { sidecarDefaults } from "../../api/injected-pod.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

export interface AnnotationSpec<T> {
  readonly key: string;
  /** Where it may be set: on the pod only, or also on the namespace as a default. */
  readonly scope: "pod" | "pod-or-namespace";
  /** The built-in default as the user would write it, or undefined when there is none. */
  readonly default: string | undefined;
  /** What the default means when it is not a literal value. */
  readonly defaultDoc?: string;
  readonly doc: string;
  parse(raw: string): Parsed<T>;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (why: string): Parsed<never> => ({ ok: false, why });

function parseBool(raw: string): Parsed<boolean> {
  if (raw === "true") return ok(true);
  if (raw === "false") return ok(false);
  return bad('must be "true" or "false"');
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
function parseConfigName(raw: string): Parsed<string> {
  // As the CRD's rule for metadata.name; the name also becomes the pod's veltrix.io/config label.
  if (raw.length > 63 || !dnsLabel.test(raw)) {
    return bad("must be a VeltrixConfig name: lowercase letters, digits and '-', at most 63 characters");
  }
  return ok(raw);
}
function parseContainerName(raw: string): Parsed<string> {
  if (raw.length > 63 || !dnsLabel.test(raw)) return bad("must be a container name (a DNS label)");
  return ok(raw);
}

function parsePortNumber(raw: string): Parsed<number> {
  if (!/^[0-9]{1,5}$/.test(raw)) return bad("must be a port number from 1 to 65535");
  const n = Number(raw);
  return n >= 1 && n <= 65535 ? ok(n) : bad("must be a port number from 1 to 65535");
}

/** A port number, or 0 for "none". */
function parsePortOrOff(raw: string): Parsed<number> {
  if (raw === "0") return ok(0);
  const n = parsePortNumber(raw);
  return n.ok ? n : bad("must be a port number from 1 to 65535, or 0 for none");
}

/** A port of the app container: its number, or the name of one of its ports. */
export type PortRef = { kind: "number"; port: number } | { kind: "name"; name: string };
const ianaServiceName = /^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?=[a-z0-9]))*$/;
function parsePortRef(raw: string): Parsed<PortRef> {
  if (/^[0-9]+$/.test(raw)) {
    const n = parsePortNumber(raw);
    return n.ok ? ok({ kind: "number", port: n.value }) : n;
  }
  if (raw.length <= 15 && ianaServiceName.test(raw)) return ok({ kind: "name", name: raw });
  return bad("must be a port number (1-65535) or the name of a port of the app container");
}

const quantity = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
function parseQuantity(raw: string): Parsed<string> {
  return quantity.test(raw) ? ok(raw) : bad("must be a Kubernetes quantity such as 500m, 128Mi or 1Gi");
}

function parseSeconds(raw: string): Parsed<number> {
  if (!/^[0-9]{1,4}$/.test(raw) || Number(raw) > 3600) return bad("must be whole seconds from 0 to 3600");
  return ok(Number(raw));
}

function parseAbsolutePath(raw: string): Parsed<string> {
  if (!raw.startsWith("/") || raw.includes(":") || raw.split("/").includes("..")) {
    return bad("must be an absolute path without ':' or '..'");
  }
  return ok(raw.length > 1 ? raw.replace(/\/+$/, "") : raw);
}

function annotation<T>(spec: AnnotationSpec<T>): AnnotationSpec<T> {
  return spec;
}

export const annotationTable = {
  inject: annotation({
    key: apiAnnotations.inject,
    scope: "pod",
    default: undefined,
    defaultDoc: "the namespace decides",
    doc: '`"true"` injects the sidecar; `"false"` opts out even in an enabled namespace. Also accepted as a pod label.',
    parse: parseBool,
  }),
  config: annotation({
    key: apiAnnotations.config,
    scope: "pod-or-namespace",
    default: "default",
    doc: "Name of the VeltrixConfig in the pod's namespace. A missing config refuses the pod.",
    parse: parseConfigName,
  }),
  appContainer: annotation({
    key: "veltrix.io/app-container",
    scope: "pod",
    default: undefined,
    defaultDoc: "the first container that is not a mesh proxy and declares a port",
    doc: "The container the sidecar forwards to; its port is taken over (see above).",
    parse: parseContainerName,
  }),
  appPort: annotation({
    key: apiAnnotations.appPort,
    scope: "pod",
    default: undefined,
    defaultDoc: "the app container's first port",
    doc: "Port (number or name) of the app container the sidecar forwards to on 127.0.0.1.",
    parse: parsePortRef,
  }),
  proxyPort: annotation({
    key: "veltrix.io/proxy-port",
    scope: "pod-or-namespace",
    default: String(sidecarDefaults.proxyPort),
    defaultDoc: `${sidecarDefaults.proxyPort}, the chart's \`sidecar.port\`, or the VeltrixConfig's \`spec.sidecar.ports.proxy\``,
    doc: "Port the sidecar listens on for app traffic.",
    parse: parsePortNumber,
  }),
  adminPort: annotation({
    key: "veltrix.io/admin-port",
    scope: "pod-or-namespace",
    default: String(sidecarDefaults.adminPort),
    defaultDoc: `${sidecarDefaults.adminPort}, the chart's \`sidecar.adminPort\`, or the VeltrixConfig's \`spec.sidecar.ports.admin\``,
    doc: "Port of the sidecar's admin API (`/healthz`, `/readyz`, `/metrics`, config) for the app.",
    parse: parsePortNumber,
  }),
  metricsPort: annotation({
    key: "veltrix.io/metrics-port",
    scope: "pod-or-namespace",
    default: String(sidecarDefaults.metricsPort),
    defaultDoc: String(sidecarDefaults.metricsPort),
    doc: "Port of the sidecar's `/metrics`-only listener on the pod's address (container port `vx-metrics`), for a cluster's Prometheus; `0` turns it off.",
    parse: parsePortOrOff,
  }),
  storeSize: annotation({
    key: "veltrix.io/store-size",
    scope: "pod-or-namespace",
    default: sidecarDefaults.storeSize,
    defaultDoc: `${sidecarDefaults.storeSize}, the chart's \`sidecar.stateVolumeSizeLimit\`, or the VeltrixConfig's \`spec.store.sizeLimit\``,
    doc: "Size of the volume holding the sidecar's SQLite state.",
    parse: parseQuantity,
  }),
  sidecarCpu: annotation({
    key: "veltrix.io/sidecar-cpu",
    scope: "pod-or-namespace",
    default: undefined,
    defaultDoc: "the VeltrixConfig's `spec.sidecar.resources`",
    doc: "CPU request of the sidecar.",
    parse: parseQuantity,
  }),
  sidecarMemory: annotation({
    key: "veltrix.io/sidecar-memory",
    scope: "pod-or-namespace",
    default: undefined,
    defaultDoc: "the VeltrixConfig's `spec.sidecar.resources`",
    doc: "Memory request and limit of the sidecar.",
    parse: parseQuantity,
  }),
  configMountPath: annotation({
    key: "veltrix.io/config-mount-path",
    scope: "pod-or-namespace",
    default: "/etc/veltrix",
    doc: "Where the rendered config is mounted, read-only, in the app containers.",
    parse: parseAbsolutePath,
  }),
  drainSeconds: annotation({
    key: "veltrix.io/drain-seconds",
    scope: "pod-or-namespace",
    default: "5",
    doc: "A `preStop` sleep added to app containers without one, so endpoints drop the pod and the sidecar drains before the app stops; `0` adds none.",
    parse: parseSeconds,
  }),
} as const;

type Table = typeof annotationTable;
type ValueOf<S> = S extends AnnotationSpec<infer T> ? T : never;
export type AnnotationValues = { [K in keyof Table]: ValueOf<Table[K]> | undefined };
export type AnnotationName = keyof Table;

/** Values that come from the VeltrixConfig, between the built-in defaults and the annotations. */
export type ConfigDefaults = Partial<Record<AnnotationName, string>>;

export interface ParseResult {
  values: AnnotationValues;
  errors: string[];
}

function problem(key: string, raw: string, why: string, where?: string): string {
  return `invalid value '${raw}' for annotation '${key}'${where ? ` on ${where}` : ""}: ${why}`;
}

/**
 * Resolves every annotation from the layers, lowest first: built-in default, the
 * config's value, the namespace's annotation (where allowed), the pod's annotation.
 * A bad namespace or pod value is reported; the default/config layers are trusted.
 */
export function parseAnnotations(
  pod: Record<string, string>,
  namespace: { name: string; annotations: Record<string, string> },
  configDefaults: ConfigDefaults = {},
): ParseResult {
  const errors: string[] = [];
  const values: Partial<Record<AnnotationName, unknown>> = {};
  for (const [name, spec] of Object.entries(annotationTable) as [AnnotationName, AnnotationSpec<unknown>][]) {
    let value: unknown;
    const base = configDefaults[name] ?? spec.default;
    if (base !== undefined) {
      const parsed = spec.parse(base);
      if (parsed.ok) value = parsed.value;
    }
    const fromNamespace = spec.scope === "pod-or-namespace" ? namespace.annotations[spec.key] : undefined;
    if (fromNamespace !== undefined) {
      const parsed = spec.parse(fromNamespace);
      if (parsed.ok) value = parsed.value;
      else errors.push(problem(spec.key, fromNamespace, parsed.why, `namespace '${namespace.name}'`));
    }
    const fromPod = pod[spec.key];
    if (fromPod !== undefined) {
      const parsed = spec.parse(fromPod);
      if (parsed.ok) value = parsed.value;
      else errors.push(problem(spec.key, fromPod, parsed.why));
    }
    values[name] = value;
  }
  return { values: values as AnnotationValues, errors };
}

/** Labels in the opt-in contract, documented beside the annotations. */
export const labelTable = [
  {
    key: "veltrix.io/injection",
    on: "namespace label",
    default: undefined,
    doc: "`enabled` injects every pod in the namespace that does not opt out.",
  },
  {
    key: "veltrix.io/inject",
    on: "pod label",
    default: undefined,
    doc: "Same as the annotation (the annotation wins when both are set).",
  },
] as const;

/** The Markdown table the README carries between its annotation-table markers. */
export function renderAnnotationTable(): string {
  const rows = [
    "| key | set on | default | meaning |",
    "| --- | --- | --- | --- |",
    ...Object.values(annotationTable).map((spec: AnnotationSpec<unknown>) => {
      const on = spec.scope === "pod" ? "pod annotation" : "pod or namespace annotation";
      const def = spec.defaultDoc ?? (spec.default === undefined ? "none" : `\`${spec.default}\``);
      return `| \`${spec.key}\` | ${on} | ${def} | ${spec.doc} |`;
    }),
    ...labelTable.map((l) => `| \`${l.key}\` | ${l.on} | none | ${l.doc} |`),
  ];
  return rows.join("\n");
}
