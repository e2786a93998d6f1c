// planInjection: (pod, namespace, config, options) → skip | refuse | inject, with the
// warnings for the user (warnings.ts). Pure: no I/O, no clock. Clone the pod without managedFields, edit the clone
// with the typed helpers in pod-edits.ts, and diff the two into a JSON patch.
import { annotationTable, type ConfigDefaults, parseAnnotations } from "./annotations.ts";
import type { InjectionConfig, InjectionOptions } from "./config-input.ts";
import {
  configLabel,
  injectedStatus,
  injectLabel,
  namespaceInjectionLabel,
  revisionAnnotation,
  statusAnnotation,
} from "../../api/injected-pod.ts";
import { diffJson, type JsonValue, type PatchOperation } from "./json-patch.ts";
import { buildInjection, completeSettings, findConflicts, resolveAppTarget } from "./pod-edits.ts";
import type { NamespaceInfo, Pod } from "./pod.ts";
import { type SkipReason, skipReasons, systemNamespaces } from "./skip-reasons.ts";
import { choiceWarnings, configWarnings, keyWarnings, settingWarnings, skipWarnings } from "./warnings.ts";

/** A skip, with the warnings for a pod that asked for injection (reason and fix) or mistyped a key. */
export type Skip = { kind: "skip"; reason: SkipReason; message: string; warnings: string[] };

export type Plan =
  | Skip
  | { kind: "refuse"; message: string; problems: string[] }
  | { kind: "inject"; patch: PatchOperation[]; pod: Pod; warnings: string[] };

/** The decision that needs no config: skip, or go on with the named config. */
export type Precheck = Skip | { kind: "proceed"; configName: string };

function skip(reason: SkipReason, warnings: string[] = []): Skip {
  return { kind: "skip", reason, message: skipReasons[reason].message, warnings };
}

/**
 * Injected by us: the status annotation, which the same patch as the sidecar adds (so a
 * reinvocation always sees both). A container named like the sidecar without it is
 * someone else's: a name collision, refused by findConflicts, never taken as ours.
 */
export function isInjected(pod: Pod): boolean {
  return pod.metadata?.annotations?.[statusAnnotation] === injectedStatus;
}

/** Opt-in, opt-out, already injected, host network; and which config the pod names. */
export function precheck(pod: Pod, namespace: NamespaceInfo): Precheck {
  const annotations = pod.metadata?.annotations ?? {};
  const explicit = annotations[annotationTable.inject.key] ?? pod.metadata?.labels?.[injectLabel];
  if (systemNamespaces.has(namespace.name)) {
    return skip("system-namespace", skipWarnings("system-namespace", explicit === "true"));
  }
  if (explicit === "false") return skip("opted-out");
  const namespaceEnabled = namespace.labels[namespaceInjectionLabel] === "enabled";
  // An unparseable value still shows intent; planInjection refuses it with the reason.
  // A pod that did not opt in may have meant to (a mistyped key): say so.
  if (explicit === undefined && !namespaceEnabled) {
    const mistyped = keyWarnings(pod, namespace);
    const notInjected = mistyped.length > 0 ? skipWarnings("not-opted-in", true) : [];
    return skip("not-opted-in", [...notInjected, ...mistyped]);
  }
  if (pod.spec.hostNetwork === true) return skip("host-network", skipWarnings("host-network", true));
  if (isInjected(pod)) return skip("already-injected");
  const configName =
    annotations[annotationTable.config.key] ?? namespace.annotations[annotationTable.config.key] ?? "default";
  return { kind: "proceed", configName };
}

function configDefaults(config: InjectionConfig | undefined): ConfigDefaults {
  const d: ConfigDefaults = {};
  if (config?.sidecar.ports?.proxy !== undefined) d.proxyPort = String(config.sidecar.ports.proxy);
  if (config?.sidecar.ports?.admin !== undefined) d.adminPort = String(config.sidecar.ports.admin);
  if (config?.store.sizeLimit !== undefined) d.storeSize = config.store.sizeLimit;
  return d;
}

/** A deep copy (the pod is plain JSON: a JSON round trip is faster than structuredClone). */
function copyOf(pod: Pod): Pod {
  return JSON.parse(JSON.stringify(pod)) as Pod;
}

function withoutManagedFields(pod: Pod): Pod {
  const copy = copyOf(pod);
  if (copy.metadata) delete copy.metadata.managedFields;
  return copy;
}

/**
 * Decides what to do with a pod being created in `namespace`. `config` is the
 * VeltrixConfig the pod names (see precheck), or undefined when it does not exist.
 */
export function planInjection(
  pod: Pod,
  namespace: NamespaceInfo,
  config: InjectionConfig | undefined,
  options: InjectionOptions,
): Plan {
  const pre = precheck(pod, namespace);
  if (pre.kind === "skip") return pre;

  const problems: string[] = [];
  const fromAnnotation = pod.metadata?.annotations?.[annotationTable.inject.key];
  const inject = fromAnnotation ?? pod.metadata?.labels?.[injectLabel];
  if (inject !== undefined && inject !== "true") {
    const kind = fromAnnotation === undefined ? "label" : "annotation";
    problems.push(`invalid value '${inject}' for ${kind} '${injectLabel}': must be "true" or "false"`);
  }
  const { values, errors } = parseAnnotations(
    pod.metadata?.annotations ?? {},
    namespace,
    configDefaults(config),
  );
  problems.push(...errors.filter((e) => !e.includes(`'${annotationTable.inject.key}'`)));
  if (config === undefined && !errors.some((e) => e.includes(`'${annotationTable.config.key}'`))) {
    problems.push(`VeltrixConfig '${pre.configName}' does not exist in namespace '${namespace.name}'`);
  }
  const target = resolveAppTarget(pod, values);
  const settings = completeSettings(values);
  // Collisions are listed with the other problems, so one refusal names everything to fix.
  if (typeof target === "string") problems.push(target);
  else problems.push(...findConflicts(pod, target, settings));
  if (problems.length > 0 || config === undefined || typeof target === "string") {
    return refuse(problems);
  }

  const before = withoutManagedFields(pod);
  const after = copyOf(before);
  buildInjection(after, target, settings, config, options);
  const meta = (after.metadata ??= {});
  meta.annotations = {
    ...meta.annotations,
    [statusAnnotation]: injectedStatus,
    [revisionAnnotation]: config.revision,
  };
  meta.labels = { ...meta.labels, [configLabel]: config.name };
  const patch = diffJson(before as unknown as JsonValue, after as unknown as JsonValue);
  const warnings = [
    ...keyWarnings(pod, namespace),
    ...choiceWarnings(pod, target, values),
    ...settingWarnings(pod, target, values, options),
    ...configWarnings(config),
  ];
  return { kind: "inject", patch, pod: after, warnings };
}

function refuse(problems: string[]): Plan {
  return { kind: "refuse", problems, message: `Veltrix cannot inject this pod: ${problems.join("; ")}` };
}
