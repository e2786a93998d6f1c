// The warnings the webhook returns with its answer (AdmissionResponse.warnings, which
// kubectl prints as "Warning: ..."): a pod that asked for injection and was skipped, a
// choice made on the user's behalf, and settings that will not do what the user
// likely meant. Pure, like plan.ts; each warning names what to change.
// The API server asks for at most 120 characters where possible and may truncate
// past 256; every sentence here stays under 256 (warnings.test.ts checks).
import { annotationTable, type AnnotationValues } from "./annotations.ts";
import type { InjectionConfig, InjectionOptions } from "./config-input.ts";
import {
  configLabel,
  injectLabel,
  namespaceInjectionLabel,
  revisionAnnotation,
  statusAnnotation,
} from "../../api/injected-pod.ts";
import { type AppTarget, meshProxies } from "./pod-edits.ts";
import type { Container, NamespaceInfo, Pod } from "./pod.ts";
import { type SkipReason, skipReasons } from "./skip-reasons.ts";

/** Every warning starts with this, so a user sees which webhook spoke. */
export const warningPrefix = "veltrix: ";

/** Kubernetes truncates longer warnings. */
export const maxWarningLength = 256;

const warn = (sentence: string): string => `${warningPrefix}${sentence}`;

const prefix = "veltrix.io/";
const podAnnotationKeys: ReadonlySet<string> = new Set([
  ...Object.values(annotationTable).map((spec) => spec.key),
  statusAnnotation,
  revisionAnnotation,
]);
const podLabelKeys: ReadonlySet<string> = new Set([injectLabel, configLabel]);

/** For a skip: the reason and its fix, when the pod asked for injection and the skip has a fix. */
export function skipWarnings(reason: SkipReason, asked: boolean): string[] {
  const spec = skipReasons[reason];
  if (!asked || spec.fix === undefined) return [];
  return [warn(`not injected: ${spec.message}; ${spec.fix}`)];
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

function nearest(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of known) {
    const d = distance(key, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/**
 * Keys that Veltrix ignores although they look meant for it: an unknown `veltrix.io/`
 * annotation or label on the pod (a typo of a known key is named), the namespace's
 * label on the pod, and pod-only annotations on the namespace.
 */
export function keyWarnings(pod: Pod, namespace: NamespaceInfo): string[] {
  const warnings: string[] = [];
  for (const key of Object.keys(pod.metadata?.annotations ?? {})) {
    if (!key.startsWith(prefix) || podAnnotationKeys.has(key)) continue;
    const guess = nearest(key, podAnnotationKeys);
    warnings.push(
      warn(`unknown annotation '${key}' is ignored${guess ? ` (did you mean '${guess}'?)` : ""}`),
    );
  }
  for (const key of Object.keys(pod.metadata?.labels ?? {})) {
    if (!key.startsWith(prefix) || podLabelKeys.has(key)) continue;
    if (key === namespaceInjectionLabel) {
      warnings.push(
        warn(
          `label '${key}' only works on a namespace and is ignored on a pod; to opt the pod in, set ${injectLabel}: "true"`,
        ),
      );
    } else {
      const guess = nearest(key, podLabelKeys);
      warnings.push(warn(`unknown label '${key}' is ignored${guess ? ` (did you mean '${guess}'?)` : ""}`));
    }
  }
  for (const spec of Object.values(annotationTable)) {
    if (spec.scope !== "pod" || namespace.annotations[spec.key] === undefined) continue;
    const fix =
      spec.key === injectLabel
        ? `label the namespace ${namespaceInjectionLabel}=enabled`
        : "set it on the pod (template)";
    warnings.push(
      warn(`annotation '${spec.key}' on namespace '${namespace.name}' is ignored: it is per pod; ${fix}`),
    );
  }
  return warnings;
}

function describePort(p: { containerPort: number; name?: string }): string {
  return p.name === undefined ? String(p.containerPort) : `${p.containerPort} (${p.name})`;
}

/** Which container and port the sidecar fronts, when several qualified and the pod did not say. */
export function choiceWarnings(pod: Pod, target: AppTarget, values: AnnotationValues): string[] {
  const warnings: string[] = [];
  if (values.appContainer === undefined) {
    const candidates = pod.spec.containers
      .filter((c) => !meshProxies.has(c.name) && (c.ports ?? []).length > 0)
      .map((c) => `'${c.name}'`);
    if (candidates.length > 1) {
      warnings.push(
        warn(
          `fronting container '${target.containerName}', the first of ${candidates.join(", ")} that declare ports; set ${annotationTable.appContainer.key} to choose`,
        ),
      );
    }
  }
  const app = pod.spec.containers.find((c) => c.name === target.containerName);
  const ports = app?.ports ?? [];
  if (values.appPort === undefined && ports.length > 1) {
    warnings.push(
      warn(
        `fronting port ${target.port} of container '${target.containerName}', the first of ${ports.map(describePort).join(", ")}; set ${annotationTable.appPort.key} to choose`,
      ),
    );
  }
  return warnings;
}

function ownPreStop(c: Container): boolean {
  return c.lifecycle?.["preStop"] !== undefined;
}

/** Settings that are valid but will not do what the user likely meant. */
export function settingWarnings(
  pod: Pod,
  target: AppTarget,
  values: AnnotationValues,
  options: InjectionOptions,
): string[] {
  const warnings: string[] = [];
  const annotations = pod.metadata?.annotations ?? {};
  const app = pod.spec.containers.find((c) => c.name === target.containerName);
  const declared = app?.ports ?? [];
  if (values.appPort?.kind === "number" && target.portIndex === undefined && declared.length > 0) {
    warnings.push(
      warn(
        `${annotationTable.appPort.key} ${target.port} is not a port container '${target.containerName}' declares (${declared.map((p) => p.containerPort).join(", ")}): a Service targeting those still reaches the app directly, past the sidecar`,
      ),
    );
  }
  const restartPolicy = pod.spec["restartPolicy"];
  if (!options.nativeSidecars && (restartPolicy === "Never" || restartPolicy === "OnFailure")) {
    warnings.push(
      warn(
        `restartPolicy ${restartPolicy} without native sidecars (Kubernetes 1.29+): the sidecar keeps running after the app exits, so the pod never completes`,
      ),
    );
  }
  const drain = values.drainSeconds ?? 0;
  const drainKey = annotationTable.drainSeconds.key;
  const drainOnPod = annotations[drainKey] !== undefined;
  if (drain > 0 && drainOnPod && !options.preStopSleep) {
    warnings.push(
      warn(`${drainKey} has no effect: this cluster has no preStop sleep action (Kubernetes 1.30+)`),
    );
  } else if (drain > 0 && options.preStopSleep) {
    const grace = pod.spec["terminationGracePeriodSeconds"];
    const graceSeconds = typeof grace === "number" ? grace : 30;
    if (drain >= graceSeconds) {
      warnings.push(
        warn(
          `${drainKey} ${drain} is not below terminationGracePeriodSeconds ${graceSeconds}: the app gets SIGTERM with no time left to shut down; lower it or raise the grace period`,
        ),
      );
    }
    if (drainOnPod) {
      for (const c of pod.spec.containers) {
        if (target.appContainers.includes(c.name) && ownPreStop(c)) {
          warnings.push(
            warn(
              `container '${c.name}' has its own preStop hook, so ${drainKey} adds no sleep to it; put the delay in that hook`,
            ),
          );
        }
      }
    }
  }
  return warnings;
}

/**
 * The pod's VeltrixConfig is not Ready (docs/operator.md, "Readiness while NATS is
 * unreachable"): the pod is injected all the same, and told that its sidecar will not take
 * queued traffic until the config is Ready.
 */
export function configWarnings(config: InjectionConfig): string[] {
  if (!config.notReady) return [];
  const reason = config.notReady.reason || "no reason given";
  return [
    warn(
      `VeltrixConfig '${config.name}' is not Ready (${reason}): in sync or async mode the sidecar stays unready, taking no traffic, until it reaches NATS; kubectl describe vxc ${config.name}`,
    ),
  ];
}
