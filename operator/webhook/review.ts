// AdmissionReview v1: decode a request body, and the small response constructors
// (after controller-runtime's response.go). Every answer is a well-formed review
// echoing the request's uid when it could be read.
import type { PatchOperation } from "./json-patch.ts";

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  operation?: string;
  namespace?: string;
  name?: string;
  object?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: "admission.k8s.io/v1";
  kind: "AdmissionReview";
  response: AdmissionResponse;
}

export type Decoded = { ok: true; request: AdmissionRequest } | { ok: false; uid: string; message: string };

/** Parses a body as an AdmissionReview v1 with a request; on failure says why (and the uid, if found). */
export function decodeReview(body: string): Decoded {
  if (body.length === 0) return { ok: false, uid: "", message: "empty body: expected an AdmissionReview" };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return { ok: false, uid: "", message: `body is not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== "object" || value === null)
    return { ok: false, uid: "", message: "body is not an object" };
  const review = value as { apiVersion?: unknown; kind?: unknown; request?: unknown };
  const request = review.request as Partial<AdmissionRequest> | undefined;
  const uid = typeof request?.uid === "string" ? request.uid : "";
  if (review.kind !== "AdmissionReview" || review.apiVersion !== "admission.k8s.io/v1") {
    return { ok: false, uid, message: "expected kind AdmissionReview, apiVersion admission.k8s.io/v1" };
  }
  if (typeof request !== "object" || request === null) {
    return { ok: false, uid, message: "AdmissionReview has no request" };
  }
  if (uid === "") return { ok: false, uid, message: "AdmissionReview request has no uid" };
  return { ok: true, request: request as AdmissionRequest };
}

export function review(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

/** Warnings go out only when there are some (kubectl prints each as "Warning: ..."). */
function withWarnings(response: AdmissionResponse, warnings: readonly string[]): AdmissionResponse {
  return warnings.length === 0 ? response : { ...response, warnings: [...warnings] };
}

export function allowed(uid: string, warnings: readonly string[] = []): AdmissionResponse {
  return withWarnings({ uid, allowed: true }, warnings);
}

export function patched(
  uid: string,
  patch: PatchOperation[],
  warnings: readonly string[] = [],
): AdmissionResponse {
  if (patch.length === 0) return allowed(uid, warnings);
  return withWarnings(
    {
      uid,
      allowed: true,
      patchType: "JSONPatch",
      patch: Buffer.from(JSON.stringify(patch)).toString("base64"),
    },
    warnings,
  );
}

export function denied(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code: 403, reason: "Forbidden", message } };
}

export function errored(uid: string, code: number, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code, message } };
}
