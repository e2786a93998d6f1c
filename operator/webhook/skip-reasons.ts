// The closed set of reasons a pod passes through without injection, each with the
// sentence an operator reads in logs and metrics (after Linkerd's report.go).

export const skipReasons = {
  "not-opted-in": "neither the pod nor its namespace opts in to injection",
  "opted-out": 'the pod sets veltrix.io/inject: "false"',
  "already-injected": "the pod already carries the Veltrix sidecar",
  "host-network": "the pod uses the host network, where the sidecar's ports would collide with the node's",
  "system-namespace": "pods in kube-system, kube-public and kube-node-lease are never injected",
  "not-pod-create": "the request is not the creation of a Pod",
} as const;

export type SkipReason = keyof typeof skipReasons;

export const systemNamespaces: ReadonlySet<string> = new Set([
  "kube-system",
  "kube-public",
  "kube-node-lease",
]);
