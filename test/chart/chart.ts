// Helpers for the chart tests: render charts/veltrix with the real helm binary, parse the
// manifests, and validate them against the real API server with a server-side dry run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  KubernetesObjectApi,
  loadYaml,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
  type V1Container,
} from "@kubernetes/client-node";
import { parseAllDocuments, stringify } from "yaml";
import { tempDir } from "../harness/env.ts";
import { helm } from "../../devenv/helm.ts";
import { repoRoot } from "../../devenv/tools.ts";

export const chartDir = join(repoRoot, "charts/veltrix");

/** The values files under charts/veltrix/ci/, one per supported install shape. */
export const valuesFiles = {
  defaults: join(chartDir, "ci/default-values.yaml"),
  certManager: join(chartDir, "ci/cert-manager-values.yaml"),
  externalNatsTls: join(chartDir, "ci/external-nats-tls-values.yaml"),
  bundledNats: join(chartDir, "ci/bundled-nats-values.yaml"),
} as const;

export interface Manifest extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  values?: string[];
  set?: string[];
  /** Other helm template flags, e.g. ["--kube-version", "1.28.0"]. */
  extra?: string[];
}

function helmArgs(opts: RenderOptions): string[] {
  const args: string[] = [];
  for (const f of opts.values ?? []) args.push("--values", f);
  for (const s of opts.set ?? []) args.push("--set", s);
  args.push(...(opts.extra ?? []));
  return args;
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null && typeof d === "object");
}

export async function renderChart(opts: RenderOptions = {}): Promise<Manifest[]> {
  const { stdout } = await helm(
    [
      "template",
      opts.release ?? "vx",
      chartDir,
      "--namespace",
      opts.namespace ?? "veltrix-system",
      ...helmArgs(opts),
    ],
    { home: tempDir("helm") },
  );
  return parseManifests(stdout);
}

/** Renders expecting failure; returns helm's error message. */
export async function renderError(opts: RenderOptions): Promise<string> {
  try {
    await renderChart(opts);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`helm template succeeded with ${helmArgs(opts).join(" ")}`);
}

/** The rendered object of `kind` (and `name`), typed by the caller with the client-node model. */
export function find<T>(manifests: Manifest[], kind: string, name?: string): T {
  const found = manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (!found) {
    const have = manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(", ");
    throw new Error(`no ${kind}${name ? `/${name}` : ""} in rendered chart (have: ${have})`);
  }
  return found as unknown as T;
}

/** The env of a container as name → value (valueFrom entries as "valueFrom"). */
export function envOf(container: V1Container | undefined): Record<string, string> {
  return Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? "valueFrom"]));
}

export function kinds(manifests: Manifest[]): string[] {
  return manifests.map((m) => m.kind).sort();
}

/** Minimal CRDs for the kinds the chart renders from other projects (cert-manager, Prometheus Operator). */
export function thirdPartyCrds(): Manifest[] {
  return parseManifests(readFileSync(join(import.meta.dirname, "fixtures/third-party-crds.yaml"), "utf8"));
}

/**
 * Server-side apply with dryRun=All: the API server runs defaulting, schema validation and
 * admission for each object without persisting it (apply, so objects that already exist —
 * the shared CRD — are validated as updates instead of failing as duplicates). Returns what the
 * server answered, by "Kind/name".
 */
export async function dryRunApply(
  kc: KubeConfig,
  manifests: Manifest[],
  namespace: string,
): Promise<Map<string, KubernetesObject>> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const answers = new Map<string, KubernetesObject>();
  for (const m of manifests) {
    const plain = structuredClone(m);
    if (plain.metadata.namespace !== undefined) plain.metadata.namespace = namespace;
    // Through client-node's model (loadYaml), as kubectl would send it: a plain object loses
    // the fields whose JSON names differ from the model's ("x-kubernetes-validations",
    // "default", "enum") when client-node serializes it.
    const obj = loadYaml<KubernetesObject>(stringify(plain));
    try {
      const answer = await client.patch(
        obj,
        undefined,
        "All",
        "veltrix-chart-test",
        true,
        PatchStrategy.ServerSideApply,
      );
      answers.set(`${m.kind}/${m.metadata.name}`, answer);
    } catch (err) {
      throw new Error(
        `server-side dry run rejected ${m.kind}/${m.metadata.name}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  return answers;
}
