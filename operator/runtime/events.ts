// Kubernetes Events an admin sees in `kubectl describe vxc`. Best effort: a failure to
// record an Event is logged, never fails the reconcile.
import type { CoreV1Api } from "./kube-api.ts";
import { apiVersion, kind } from "../../api/contract.ts";
import type { Logger } from "../../lib/log.ts";

export interface EventTarget {
  namespace: string;
  name: string;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

export type EventType = "Normal" | "Warning";

export interface EventRecorder {
  record(target: EventTarget, type: EventType, reason: string, message: string): Promise<void>;
}

export function createEventRecorder(core: CoreV1Api, component: string, log: Logger): EventRecorder {
  return {
    async record(target, type, reason, message) {
      const now = new Date();
      try {
        await core.createNamespacedEvent({
          namespace: target.namespace,
          body: {
            metadata: { generateName: `${target.name}.`, namespace: target.namespace },
            involvedObject: {
              apiVersion,
              kind,
              namespace: target.namespace,
              name: target.name,
              ...(target.uid ? { uid: target.uid } : {}),
              ...(target.resourceVersion ? { resourceVersion: target.resourceVersion } : {}),
            },
            type,
            reason,
            message,
            source: { component },
            reportingComponent: component,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
      } catch (err) {
        log.warn("could not record event", { reason, err });
      }
    },
  };
}
