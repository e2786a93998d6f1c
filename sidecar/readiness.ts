// What /readyz reports for one process: the reasons it is not ready (empty = ready)
// and detail (mode, broker and queue state, config source), from its attachments.
import type { Attachment } from "./attachment.ts";

export interface Readiness {
  reasons: string[];
  detail: Record<string, unknown>;
}

export function attachmentsReadiness(
  draining: boolean,
  attachments: readonly Attachment[],
  detail: Record<string, unknown>,
): Readiness {
  const out = { ...detail };
  for (const a of attachments) Object.assign(out, a.detail());
  return {
    reasons: [
      ...(draining ? ["draining"] : []),
      ...attachments.filter((a) => !a.ready).map((a) => a.notReadyReason),
    ],
    detail: out,
  };
}
