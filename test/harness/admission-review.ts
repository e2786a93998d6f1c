// An AdmissionReview for creating `pod` in `namespace`, shaped as the API server sends
// it: what the webhook tests and the webhook bench post.
export function podAdmissionReview(uid: string, namespace: string, pod: object): object {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      namespace,
      operation: "CREATE",
      userInfo: { username: "test" },
      object: pod,
    },
  };
}
