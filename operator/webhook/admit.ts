// From a decoded AdmissionRequest to an AdmissionResponse: the only place that
// does I/O around the pure planInjection (namespace and config lookups, passed in).
import type { InjectionConfig, InjectionOptions } from "./config-input.ts";
import { planInjection, precheck } from "./plan.ts";
import type { NamespaceInfo, Pod } from "./pod.ts";
import {
  type AdmissionRequest,
  type AdmissionResponse,
  allowed,
  denied,
  errored,
  patched,
} from "./review.ts";
import type { AdmissionOutcome } from "./metrics.ts";

export interface Lookups {
  /** The namespace's labels and annotations (a namespace that is gone has none). */
  namespace(name: string): Promise<NamespaceInfo>;
  /** The VeltrixConfig, or undefined when it does not exist. */
  config(namespace: string, name: string): Promise<InjectionConfig | undefined>;
}

export interface Admitted {
  response: AdmissionResponse;
  outcome: AdmissionOutcome;
  reason: string;
}

const objectName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function isPod(value: unknown): value is Pod {
  if (typeof value !== "object" || value === null) return false;
  const spec = (value as { spec?: unknown }).spec;
  return (
    typeof spec === "object" && spec !== null && Array.isArray((spec as { containers?: unknown }).containers)
  );
}

export async function admit(
  request: AdmissionRequest,
  lookups: Lookups,
  options: InjectionOptions,
): Promise<Admitted> {
  const uid = request.uid;
  const isPodCreate =
    request.operation === "CREATE" &&
    request.kind?.kind === "Pod" &&
    (request.kind.group ?? "") === "" &&
    (request.subResource ?? "") === "";
  if (!isPodCreate) {
    return { response: allowed(uid), outcome: "skip", reason: "not-pod-create" };
  }
  if (!isPod(request.object)) {
    return {
      response: errored(uid, 400, "request.object is not a Pod with spec.containers"),
      outcome: "bad-request",
      reason: "",
    };
  }
  // The namespace comes from the request: pods made from generateName carry none.
  const namespaceName = request.namespace ?? "";
  if (namespaceName === "") {
    return { response: errored(uid, 400, "request has no namespace"), outcome: "bad-request", reason: "" };
  }
  const pod = request.object;
  try {
    // Skip without any lookup when the pod does not opt in by itself.
    const quick = precheck(pod, { name: namespaceName, labels: {}, annotations: {} });
    if (quick.kind === "skip" && quick.reason !== "not-opted-in") {
      return { response: allowed(uid, quick.warnings), outcome: "skip", reason: quick.reason };
    }
    const namespace = await lookups.namespace(namespaceName);
    const pre = precheck(pod, namespace);
    if (pre.kind === "skip") {
      return { response: allowed(uid, pre.warnings), outcome: "skip", reason: pre.reason };
    }
    const config = objectName.test(pre.configName)
      ? await lookups.config(namespaceName, pre.configName)
      : undefined;
    const plan = planInjection(pod, namespace, config, options);
    switch (plan.kind) {
      case "skip":
        return { response: allowed(uid, plan.warnings), outcome: "skip", reason: plan.reason };
      case "refuse":
        return { response: denied(uid, plan.message), outcome: "refuse", reason: "" };
      case "inject":
        return { response: patched(uid, plan.patch, plan.warnings), outcome: "inject", reason: "" };
    }
  } catch (err) {
    const message = `Veltrix could not decide on this pod (retry): ${(err as Error).message}`;
    return { response: errored(uid, 500, message), outcome: "error", reason: "" };
  }
}
