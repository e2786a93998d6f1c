// The MutatingWebhookConfiguration the tests and the webhook bench register, shaped like
// the chart's: pod CREATE, Fail, reinvoked if needed. Only where it calls and whom it
// selects differ.
import type { V1MutatingWebhookConfiguration } from "@kubernetes/client-node";

export function injectionWebhookConfiguration(o: {
  name: string;
  url: string;
  /** Omitted: registered without one, as the chart does; the operator patches it in. */
  caBundlePem?: string;
  namespaceSelector: Record<string, string>;
  objectSelector?: Record<string, string>;
}): V1MutatingWebhookConfiguration {
  return {
    metadata: { name: o.name },
    webhooks: [
      {
        name: "pod.inject.veltrix.io",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy: "Fail",
        reinvocationPolicy: "IfNeeded",
        timeoutSeconds: 10,
        clientConfig: {
          url: o.url,
          ...(o.caBundlePem && { caBundle: Buffer.from(o.caBundlePem).toString("base64") }),
        },
        namespaceSelector: { matchLabels: o.namespaceSelector },
        ...(o.objectSelector && { objectSelector: { matchLabels: o.objectSelector } }),
        rules: [
          {
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE"],
            resources: ["pods"],
            scope: "Namespaced",
          },
        ],
      },
    ],
  };
}
