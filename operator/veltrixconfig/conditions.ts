// Status conditions as pure functions: set one (keeping lastTransitionTime while the
// status does not change) and compare statuses semantically so the reconciler writes
// only on a real change.
import { canonicalJson } from "../../api/resolve.ts";
import type { VeltrixConfigStatus, VeltrixConfigStatusConditionsItem } from "../../api/types.generated.ts";

export type Condition = VeltrixConfigStatusConditionsItem;

export interface ConditionInput {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

export function setCondition(
  current: readonly Condition[],
  next: ConditionInput,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const old = current.find((c) => c.type === next.type);
  const changed = !old || old.status !== next.status;
  const cond: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message.slice(0, 32_768),
    lastTransitionTime:
      changed || !old ? now.toISOString().replace(/\.\d{3}Z$/, "Z") : old.lastTransitionTime,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  const out = current.filter((c) => c.type !== next.type);
  out.push(cond);
  return out.sort((a, b) => a.type.localeCompare(b.type));
}

export function findCondition(status: VeltrixConfigStatus | undefined, type: string): Condition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** True when the two statuses say the same thing (conditions in any order). */
export function statusEqual(a: VeltrixConfigStatus | undefined, b: VeltrixConfigStatus | undefined): boolean {
  const norm = (s: VeltrixConfigStatus | undefined): string =>
    canonicalJson({
      ...s,
      conditions: [...(s?.conditions ?? [])].sort((x, y) => x.type.localeCompare(y.type)),
    });
  return norm(a) === norm(b);
}
