// The Kubernetes API calls the operator makes, as small classes with client-node's names,
// parameters and result types (so code written against client-node reads the same), over
// operator/runtime/kube-client.ts. Only what the operator calls is here. Answers are the
// API server's JSON as it comes: date fields are strings, not Date objects.
import type {
  CoreV1Event,
  KubernetesListObject,
  V1ConfigMap,
  V1Deployment,
  V1Lease,
  V1MutatingWebhookConfiguration,
  V1Namespace,
  V1Pod,
  V1Secret,
  V1Status,
  VersionInfo,
} from "@kubernetes/client-node";
import { type KubeConnection, kubeRequest, type Query, type RequestHeaders } from "./kube-client.ts";

export { ApiException, type KubeConnection, PatchStrategy, setHeaderOptions } from "./kube-client.ts";

interface Named {
  name: string;
  namespace: string;
}
interface ListParams {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  limit?: number;
}

const seg = encodeURIComponent;

/** Typed requests on one API group's path, e.g. /api/v1 or /apis/apps/v1. */
class Resources {
  protected readonly conn: KubeConnection;
  constructor(conn: KubeConnection) {
    this.conn = conn;
  }

  protected get<T>(path: string, query?: Query): Promise<T> {
    return kubeRequest<T>(this.conn, { method: "GET", path, query });
  }

  protected post<T>(path: string, body: unknown): Promise<T> {
    return kubeRequest<T>(this.conn, { method: "POST", path, body });
  }

  protected put<T>(path: string, body: unknown): Promise<T> {
    return kubeRequest<T>(this.conn, { method: "PUT", path, body });
  }

  /** PATCH: JSON patch unless `options` sets the Content-Type (as client-node). */
  protected patch<T>(path: string, body: unknown, options?: RequestHeaders): Promise<T> {
    return kubeRequest<T>(this.conn, {
      method: "PATCH",
      path,
      body,
      contentType: "application/json-patch+json",
      options,
    });
  }

  protected delete<T>(path: string, query?: Query): Promise<T> {
    return kubeRequest<T>(this.conn, { method: "DELETE", path, query });
  }
}

const core = (namespace: string, resource: string, name?: string): string =>
  `/api/v1/namespaces/${seg(namespace)}/${resource}${name === undefined ? "" : `/${seg(name)}`}`;

export class CoreV1Api extends Resources {
  readNamespace(p: { name: string }): Promise<V1Namespace> {
    return this.get(`/api/v1/namespaces/${seg(p.name)}`);
  }

  readNamespacedSecret(p: Named): Promise<V1Secret> {
    return this.get(core(p.namespace, "secrets", p.name));
  }

  createNamespacedSecret(p: { namespace: string; body: V1Secret }): Promise<V1Secret> {
    return this.post(core(p.namespace, "secrets"), p.body);
  }

  replaceNamespacedSecret(p: Named & { body: V1Secret }): Promise<V1Secret> {
    return this.put(core(p.namespace, "secrets", p.name), p.body);
  }

  patchNamespacedSecret(p: Named & { body: object }, options?: RequestHeaders): Promise<V1Secret> {
    return this.patch(core(p.namespace, "secrets", p.name), p.body, options);
  }

  deleteNamespacedSecret(p: Named & { propagationPolicy?: string }): Promise<V1Status> {
    return this.delete(core(p.namespace, "secrets", p.name), { propagationPolicy: p.propagationPolicy });
  }

  createNamespacedConfigMap(p: { namespace: string; body: V1ConfigMap }): Promise<V1ConfigMap> {
    return this.post(core(p.namespace, "configmaps"), p.body);
  }

  patchNamespacedConfigMap(p: Named & { body: object }, options?: RequestHeaders): Promise<V1ConfigMap> {
    return this.patch(core(p.namespace, "configmaps", p.name), p.body, options);
  }

  listNamespacedConfigMap(p: { namespace: string } & ListParams): Promise<KubernetesListObject<V1ConfigMap>> {
    const { namespace, ...query } = p;
    return this.get(core(namespace, "configmaps"), query);
  }

  listConfigMapForAllNamespaces(p: ListParams = {}): Promise<KubernetesListObject<V1ConfigMap>> {
    return this.get("/api/v1/configmaps", { ...p });
  }

  listNamespacedPod(p: { namespace: string } & ListParams): Promise<KubernetesListObject<V1Pod>> {
    const { namespace, ...query } = p;
    return this.get(core(namespace, "pods"), query);
  }

  listPodForAllNamespaces(p: ListParams = {}): Promise<KubernetesListObject<V1Pod>> {
    return this.get("/api/v1/pods", { ...p });
  }

  createNamespacedEvent(p: { namespace: string; body: CoreV1Event }): Promise<CoreV1Event> {
    return this.post(core(p.namespace, "events"), p.body);
  }
}

interface CustomResource {
  group: string;
  version: string;
  plural: string;
}
const custom = (r: CustomResource, namespace?: string, name?: string, sub?: string): string =>
  `/apis/${seg(r.group)}/${seg(r.version)}` +
  (namespace === undefined ? "" : `/namespaces/${seg(namespace)}`) +
  `/${seg(r.plural)}` +
  (name === undefined ? "" : `/${seg(name)}`) +
  (sub === undefined ? "" : `/${sub}`);

/** Custom resources: answers are `unknown`, as client-node's `any`; callers say what they read. */
export class CustomObjectsApi extends Resources {
  listNamespacedCustomObject(p: CustomResource & { namespace: string } & ListParams): Promise<unknown> {
    const { group, version, plural, namespace, ...query } = p;
    return this.get(custom({ group, version, plural }, namespace), query);
  }

  listClusterCustomObject(p: CustomResource & ListParams): Promise<unknown> {
    const { group, version, plural, ...query } = p;
    return this.get(custom({ group, version, plural }), query);
  }

  getNamespacedCustomObject(p: CustomResource & Named): Promise<unknown> {
    return this.get(custom(p, p.namespace, p.name));
  }

  createNamespacedCustomObject(p: CustomResource & { namespace: string; body: object }): Promise<unknown> {
    return this.post(custom(p, p.namespace), p.body);
  }

  patchNamespacedCustomObject(
    p: CustomResource & Named & { body: object },
    options?: RequestHeaders,
  ): Promise<unknown> {
    return this.patch(custom(p, p.namespace, p.name), p.body, options);
  }

  patchNamespacedCustomObjectStatus(
    p: CustomResource & Named & { body: object },
    options?: RequestHeaders,
  ): Promise<unknown> {
    return this.patch(custom(p, p.namespace, p.name, "status"), p.body, options);
  }
}

const leases = (namespace: string, name?: string): string =>
  `/apis/coordination.k8s.io/v1/namespaces/${seg(namespace)}/leases${name === undefined ? "" : `/${seg(name)}`}`;

export class CoordinationV1Api extends Resources {
  readNamespacedLease(p: Named): Promise<V1Lease> {
    return this.get(leases(p.namespace, p.name));
  }

  createNamespacedLease(p: { namespace: string; body: V1Lease }): Promise<V1Lease> {
    return this.post(leases(p.namespace), p.body);
  }

  replaceNamespacedLease(p: Named & { body: V1Lease }): Promise<V1Lease> {
    return this.put(leases(p.namespace, p.name), p.body);
  }
}

export class AppsV1Api extends Resources {
  readNamespacedDeployment(p: Named): Promise<V1Deployment> {
    return this.get(`/apis/apps/v1/namespaces/${seg(p.namespace)}/deployments/${seg(p.name)}`);
  }
}

const webhooks = (name: string): string =>
  `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${seg(name)}`;

export class AdmissionregistrationV1Api extends Resources {
  readMutatingWebhookConfiguration(p: { name: string }): Promise<V1MutatingWebhookConfiguration> {
    return this.get(webhooks(p.name));
  }

  replaceMutatingWebhookConfiguration(p: {
    name: string;
    body: V1MutatingWebhookConfiguration;
  }): Promise<V1MutatingWebhookConfiguration> {
    return this.put(webhooks(p.name), p.body);
  }
}

export class VersionApi extends Resources {
  getCode(): Promise<VersionInfo> {
    return this.get("/version");
  }
}
