// Reconciles one VeltrixConfig, level-based and idempotent: the ConfigMap (sidecar
// boot fallback), the JetStream work-queue stream and durable consumer, the
// ConfigDocument in the NATS KV bucket, pod counts, and status last (written only on a
// semantic change). A finalizer cleans up per queue.deletionPolicy. NATS failures set
// Ready=False with a reason and are retried with backoff.
import type { V1ConfigMap, V1Pod } from "@kubernetes/client-node";
import {
  apiVersion,
  type ConfigRef,
  configKey,
  configMapKey,
  configMapName,
  conditionTypes,
  consumerName,
  finalizer,
  group,
  kind,
  labels,
  managedByValue,
  natsCredentialsSecretName,
  outcomeBucketName,
  plural,
  streamName,
  version,
} from "../../api/contract.ts";
import { ensureOutcomeBucket } from "../../api/outcome-bucket.ts";
import { applyDefaults, type ConfigDocument, configDocument, parseDuration } from "../../api/resolve.ts";
import type { VeltrixConfig, VeltrixConfigStatus } from "../../api/types.generated.ts";
import { findCondition, statusEqual } from "./conditions.ts";
import { desiredStatus, type NatsFailure, natsFailure } from "./status.ts";
import type { ReconcileContext, ReconcileResult } from "../runtime/controller.ts";
import { withoutManagedFields } from "../runtime/informer.ts";
import {
  type CoreV1Api,
  type CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from "../runtime/kube-api.ts";
import type { EventRecorder } from "../runtime/events.ts";
import type { SidecarCredentials } from "../nats-identity/credentials.ts";
import type { UserRevocations } from "../nats-identity/revocation.ts";
import type { NatsLink } from "./nats-link.ts";
import { podsInSync, type SidecarStatusIndex } from "./sidecar-status.ts";
import { deleteOutcomeBucket, deleteStream, ensureStream, type StreamState } from "./stream.ts";

export interface ObjectCache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export interface ReconcilerDeps {
  custom: CustomObjectsApi;
  core: CoreV1Api;
  configs: ObjectCache<VeltrixConfig>;
  configMaps: ObjectCache<V1ConfigMap>;
  pods: ObjectCache<V1Pod>;
  sidecars: SidecarStatusIndex;
  nats: NatsLink;
  events: EventRecorder;
  /** Mints each config's sidecar NATS user into a Secret (operator/nats-identity); none: bring your own. */
  credentials?: SidecarCredentials | undefined;
  /** Revokes a deleted config's user at once (else it lives until its JWT expires). */
  revocations?: UserRevocations | undefined;
  /** Look again this often after a successful reconcile (queue depth, pods); default 30 s. */
  statusRefreshMs?: number;
  now?: () => Date;
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

function rvNumber(o: { metadata?: { resourceVersion?: string } } | undefined): number {
  return Number(o?.metadata?.resourceVersion ?? 0) || 0;
}

export function splitKey(key: string): ConfigRef {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export class VeltrixConfigReconciler {
  private readonly deps: ReconcilerDeps;
  /** Objects returned by our own writes, newer than the informer cache for a moment. */
  private readonly written = new Map<string, VeltrixConfig>();
  /** Streams this process has seen in place (to tell "recreated" from "created"). */
  private readonly seenStreams = new Set<string>();

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
  }

  /** The newer of the informer's copy and the one our last write returned. */
  private current(key: string, ref: ConfigRef): VeltrixConfig | undefined {
    const cached = this.deps.configs.get(ref.name, ref.namespace);
    const mine = this.written.get(key);
    if (!cached) {
      this.written.delete(key);
      return undefined;
    }
    if (mine && mine.metadata?.uid === cached.metadata?.uid && rvNumber(mine) > rvNumber(cached)) return mine;
    this.written.delete(key);
    return cached;
  }

  readonly reconcile = async (key: string, ctx: ReconcileContext): Promise<ReconcileResult | undefined> => {
    const ref = splitKey(key);
    const vxc = this.current(key, ref);
    if (!vxc) return undefined; // gone: the finalizer already cleaned up
    if (vxc.metadata?.deletionTimestamp) return this.finalize(key, ref, vxc, ctx);

    if (!(vxc.metadata?.finalizers ?? []).includes(finalizer)) {
      await this.patchMeta(key, ref, vxc, [...(vxc.metadata?.finalizers ?? []), finalizer]);
    }
    if (ctx.signal.aborted) return undefined;

    const spec = applyDefaults(vxc.spec);
    const doc = configDocument(ref, vxc.spec);
    const target = { ...ref, uid: vxc.metadata?.uid, resourceVersion: vxc.metadata?.resourceVersion };
    const generation = vxc.metadata?.generation;
    const now = this.deps.now?.() ?? new Date();
    const old = vxc.status ?? {};

    // 1. ConfigMap: needs no NATS, so sidecars can boot from it even while NATS is down.
    await this.ensureConfigMap(ref, vxc, doc, ctx);

    // 1b. The sidecars' own NATS user, renewed before it expires: needs no NATS either.
    let renewInMs = Infinity;
    let credentials: "ok" | { failed: string } | undefined;
    let credentialsError: Error | undefined;
    if (this.deps.credentials) {
      const c = await this.deps.credentials
        .ensure(ref, vxc.metadata?.uid ?? "", now)
        .catch((err: unknown) => {
          credentialsError = err instanceof Error ? err : new Error(String(err));
          return undefined;
        });
      credentials = c ? "ok" : { failed: credentialsError?.message ?? "unknown error" };
      if (c) renewInMs = Math.max(1_000, c.renewAt.getTime() - now.getTime());
      else
        await this.deps.events.record(
          target,
          "Warning",
          "CredentialsFailed",
          `could not issue the sidecars' NATS user: ${credentialsError?.message ?? "unknown error"}`,
        );
      if (c && c.action !== "kept") {
        ctx.log.info("NATS credentials minted", { action: c.action, reason: c.reason, user: c.user });
        const renewed = c.action === "renewed";
        await this.deps.events.record(
          target,
          "Normal",
          renewed ? "CredentialsRenewed" : "CredentialsIssued",
          `${renewed ? "renewed" : "issued"} the sidecars' NATS user ${c.user ?? ""} in Secret ${natsCredentialsSecretName(ref.name)}` +
            (renewed && c.reason ? ` (${c.reason})` : ""),
        );
      }
    }

    // 2. NATS: stream + consumer, then the ConfigDocument in KV.
    let state: StreamState | undefined;
    let maxPayload: number | undefined;
    let published = false;
    let natsError: unknown;
    try {
      const nats = this.deps.nats.get();
      state = await ensureStream(nats.jsm, ref, spec);
      maxPayload = nats.nc.info?.max_payload;
      await ensureOutcomeBucket(
        nats.nc,
        outcomeBucketName(ref),
        parseDuration(spec.store.retention),
        spec.queue.stream.replicas,
      );
      const entry = await nats.configKv.get(configKey(ref));
      const have = entry?.operation === "PUT" ? entry.json<ConfigDocument>().revision : undefined;
      if (have !== doc.revision) {
        await nats.configKv.put(configKey(ref), JSON.stringify(doc));
        published = true;
      }
    } catch (err) {
      natsError = err;
      this.deps.nats.noteFailure(err);
    }
    if (ctx.signal.aborted) return undefined;

    // 3. Pods naming this config, and those Ready whose sidecar applies this revision.
    const pods = this.deps.pods
      .list(ref.namespace)
      .filter((p) => p.metadata?.labels?.[labels.config] === ref.name && !p.metadata?.deletionTimestamp);
    const inSync = podsInSync(pods, (pod) => this.deps.sidecars.revision(ref, pod), doc.revision);

    // 4. Status, last.
    const failure = natsError === undefined ? undefined : natsFailure(natsError);
    const status = desiredStatus({
      ref,
      generation,
      revision: doc.revision,
      now,
      old,
      stream: state,
      failure,
      pods: { injected: pods.length, inSync: inSync.length },
      body: { maxBodyBytes: spec.queue.maxBodyBytes, maxPayload },
      ...(credentials !== undefined && { credentials }),
    });
    if (!statusEqual(old, status)) await this.writeStatus(key, ref, status);

    // 5. Events for what an admin wants to see.
    await this.recordEvents(target, old, state, published, doc, failure);

    if (failure) {
      ctx.log.warn("NATS step failed; Ready=False, retrying with backoff", {
        reason: failure.reason,
        err: natsError,
      });
      throw natsError instanceof Error ? natsError : new Error(failure.message);
    }
    if (credentialsError !== undefined) {
      ctx.log.warn("minting the sidecars' NATS user failed; Ready=False, retrying with backoff", {
        err: credentialsError,
      });
      throw credentialsError;
    }
    ctx.log.debug("in sync", { revision: doc.revision, changed: state?.changed });
    return { requeueAfterMs: Math.min(this.deps.statusRefreshMs ?? 30_000, renewInMs) };
  };

  private async recordEvents(
    target: {
      namespace: string;
      name: string;
      uid?: string | undefined;
      resourceVersion?: string | undefined;
    },
    old: VeltrixConfigStatus,
    state: StreamState | undefined,
    published: boolean,
    doc: ConfigDocument,
    failure: NatsFailure | undefined,
  ): Promise<void> {
    const ev = this.deps.events;
    // Seen before by this process, or reported ready: a create now means it was deleted.
    // (The status alone can say False by then: a reconcile racing the deletion fails.)
    const name = streamName(target);
    const wasReady =
      this.seenStreams.has(name) || findCondition(old, conditionTypes.streamReady)?.status === "True";
    if (state) this.seenStreams.add(name);
    if (state?.streamAction === "created") {
      await ev.record(
        target,
        wasReady ? "Warning" : "Normal",
        wasReady ? "StreamRecreated" : "StreamCreated",
        wasReady
          ? `stream ${state.stream.config.name} was missing (deleted out of band?) and was recreated`
          : `created stream ${state.stream.config.name}`,
      );
    } else if (state?.streamAction === "updated" || state?.consumerAction === "updated") {
      await ev.record(target, "Normal", "StreamUpdated", `updated in place: ${state.changed.join(", ")}`);
    }
    if (state?.consumerAction === "created" && state.streamAction !== "created") {
      await ev.record(
        target,
        "Warning",
        "ConsumerRecreated",
        `durable consumer ${consumerName} was missing and was recreated`,
      );
    }
    // On create StreamCreated says enough; a new revision of an existing config is news.
    if (published && old.revision && old.revision !== doc.revision) {
      await ev.record(
        target,
        "Normal",
        "ConfigPublished",
        `published revision ${doc.revision} (was ${old.revision})`,
      );
    }
    if (failure && findCondition(old, conditionTypes.ready)?.reason !== failure.reason) {
      await ev.record(target, "Warning", failure.reason, failure.message);
    }
  }

  private async ensureConfigMap(
    ref: ConfigRef,
    vxc: VeltrixConfig,
    doc: ConfigDocument,
    ctx: ReconcileContext,
  ): Promise<void> {
    const name = configMapName(ref.name);
    const data = { [configMapKey]: JSON.stringify(doc, null, 2), revision: doc.revision };
    const have = this.deps.configMaps.get(name, ref.namespace);
    if (have && have.data?.[configMapKey] === data[configMapKey] && have.data?.["revision"] === doc.revision)
      return;
    const body: V1ConfigMap = {
      metadata: {
        name,
        namespace: ref.namespace,
        labels: { [labels.managedBy]: managedByValue, [labels.config]: ref.name },
        ownerReferences: [
          {
            apiVersion,
            kind,
            name: ref.name,
            uid: vxc.metadata?.uid ?? "",
            controller: true,
            blockOwnerDeletion: false,
          },
        ],
      },
      data,
    };
    try {
      if (have) {
        await this.deps.core.patchNamespacedConfigMap(
          { name, namespace: ref.namespace, body: { data } },
          mergePatch,
        );
      } else {
        await this.deps.core.createNamespacedConfigMap({ namespace: ref.namespace, body });
      }
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === 409) {
        // Created meanwhile (our cache is behind): overwrite its data.
        await this.deps.core.patchNamespacedConfigMap(
          { name, namespace: ref.namespace, body: { data } },
          mergePatch,
        );
      } else if (code === 404 && have) {
        await this.deps.core.createNamespacedConfigMap({ namespace: ref.namespace, body });
      } else {
        throw err;
      }
    }
    ctx.log.info("ConfigMap written", { configMap: name, revision: doc.revision });
  }

  private async writeStatus(key: string, ref: ConfigRef, status: VeltrixConfigStatus): Promise<void> {
    const updated = (await this.deps.custom.patchNamespacedCustomObjectStatus(
      { group, version, plural, namespace: ref.namespace, name: ref.name, body: { status } },
      mergePatch,
    )) as VeltrixConfig;
    // Held until the cache catches up (the next reconcile), so shaped as the cache's copies.
    this.written.set(key, withoutManagedFields(updated));
  }

  private async patchMeta(
    key: string,
    ref: ConfigRef,
    vxc: VeltrixConfig,
    finalizers: string[],
  ): Promise<void> {
    // resourceVersion makes this a compare-and-swap on the finalizer list.
    const updated = (await this.deps.custom.patchNamespacedCustomObject(
      {
        group,
        version,
        plural,
        namespace: ref.namespace,
        name: ref.name,
        body: { metadata: { finalizers, resourceVersion: vxc.metadata?.resourceVersion } },
      },
      mergePatch,
    )) as VeltrixConfig;
    this.written.set(key, withoutManagedFields(updated));
  }

  private async finalize(
    key: string,
    ref: ConfigRef,
    vxc: VeltrixConfig,
    ctx: ReconcileContext,
  ): Promise<undefined> {
    if (!(vxc.metadata?.finalizers ?? []).includes(finalizer)) return undefined;
    const policy = applyDefaults(vxc.spec).queue.deletionPolicy;
    const target = { ...ref, uid: vxc.metadata?.uid };
    // NATS unreachable: throws, so deletion waits (with backoff) until cleanup can happen.
    const nats = this.deps.nats.get();
    if (policy === "Delete") {
      const deleted = await deleteStream(nats.jsm, ref);
      this.seenStreams.delete(streamName(ref));
      if (deleted)
        await this.deps.events.record(target, "Normal", "StreamDeleted", `deleted stream ${streamName(ref)}`);
      if (await deleteOutcomeBucket(nats.jsm, ref))
        await this.deps.events.record(
          target,
          "Normal",
          "OutcomesDeleted",
          `deleted async outcome bucket ${outcomeBucketName(ref)}`,
        );
    } else {
      await this.deps.events.record(
        target,
        "Normal",
        "StreamRetained",
        `kept stream ${streamName(ref)} (deletionPolicy Retain)`,
      );
    }
    await nats.configKv.delete(configKey(ref));
    const revocations = this.deps.revocations;
    const now = this.deps.now?.() ?? new Date();
    const user = await this.deps.credentials?.remove(
      ref,
      revocations && ((u) => revocations.revoke(nats.nc, u, now)),
    );
    if (user !== undefined) {
      await this.deps.events.record(
        target,
        "Normal",
        "CredentialsDeleted",
        `deleted Secret ${natsCredentialsSecretName(ref.name)} with the sidecars' NATS user ${user}` +
          (revocations ? " and revoked the user" : "; the user stays valid until it expires"),
      );
    }
    if (ctx.signal.aborted) return undefined;
    await this.patchMeta(
      key,
      ref,
      vxc,
      (vxc.metadata?.finalizers ?? []).filter((f) => f !== finalizer),
    );
    ctx.log.info("finalized", { deletionPolicy: policy });
    return undefined;
  }
}
