import { request } from "node:https";

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

/**
 * POSTs an AdmissionReview (JSON text or object) to a webhook on loopback over TLS,
 * verifying it against `caPem` for `servername`; resolves with the reply review.
 */
export function postReview(
  port: number,
  caPem: string,
  review: string | object,
  servername = "localhost",
): Promise<{ response: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/mutate", method: "POST", ca: caPem, servername, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          try {
            resolve(JSON.parse(text) as { response: Record<string, unknown> });
          } catch (err) {
            reject(new Error(`status ${res.statusCode}: ${text}`, { cause: err }));
          }
        });
      },
    );
    req.setHeader("content-type", "application/json");
    req.on("error", reject);
    req.end(typeof review === "string" ? review : JSON.stringify(review));
  });
}
