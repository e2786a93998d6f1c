// The closed set of reasons a pod passes through without injection, each with the
// sentence an operator reads in logs and metrics (after Linkerd's report.go) and,
// where the pod asked for injection, the fix the webhook returns as a warning.

export interface SkipReasonSpec {
  readonly message: string;
  /** What to change to get the sidecar; undefined when the skip is what the user asked for. */
  readonly fix: string | undefined;
}

export const skipReasons = {
  "not-opted-in": {
    message: "neither the pod nor its namespace opts in to injection",
    fix: 'set veltrix.io/inject: "true" or label the namespace veltrix.io/injection=enabled',
  },
  "opted-out": { message: 'the pod sets veltrix.io/inject: "false"', fix: undefined },
  "already-injected": { message: "the pod already carries the Veltrix sidecar", fix: undefined },
  "host-network": {
    message: "the pod uses the host network, where the sidecar's ports would collide with the node's",
    fix: 'remove hostNetwork: true, or set veltrix.io/inject: "false" to run it without Veltrix',
  },
  "system-namespace": {
    message: "pods in kube-system, kube-public and kube-node-lease are never injected",
    fix: "run the workload in another namespace",
  },
  "not-pod-create": { message: "the request is not the creation of a Pod", fix: undefined },
} as const satisfies Record<string, SkipReasonSpec>;

export type SkipReason = keyof typeof skipReasons;

export const systemNamespaces: ReadonlySet<string> = new Set([
  "kube-system",
  "kube-public",
  "kube-node-lease",
]);
