// `veltrix status`: each VeltrixConfig with its revision, pods in sync and every condition
// that is not True (from the API server), and its queue depth, consumer pending and dead
// letters (from NATS, live). Without a NATS connection the depth and pending are the
// operator's, as of its last reconcile (status.queue), and dead letters are unknown.
//
// Dead letters are counted from the config's outcome bucket (contract.outcomeBucketName):
// a sidecar that dead-letters a request, sync or async, writes its outcome there with
// `deadLettered: true` before it announces it on contract.deadLetterSubject. The bucket
// keeps entries for the config's store.retention, so the count is "dead-lettered within
// store.retention". The announcements themselves are core NATS (nobody keeps them), and a
// malformed message (no request id) is announced only; it is not counted here.
import { type KubeConfig, CustomObjectsApi } from "@kubernetes/client-node";
import { JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  type ConfigRef,
  consumerName,
  group,
  outcomeBucketName,
  plural,
  streamName,
  version,
} from "../api/contract.ts";
import type { VeltrixConfig } from "../api/types.generated.ts";

export interface ConditionNotTrue {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export interface ConfigStatus {
  namespace: string;
  name: string;
  /** status.revision; "" before the operator's first reconcile. */
  revision: string;
  pods: { injected: number; inSync: number };
  queue: {
    /** Where depth and consumerPending come from: NATS now, or the operator's last reconcile. */
    source: "nats" | "status";
    /** Messages waiting in the work-queue stream. */
    depth: number | null;
    /** Delivered to sidecars and not acknowledged yet (the consumer's num_ack_pending). */
    consumerPending: number | null;
    /** Not delivered to any sidecar yet (the consumer's num_pending); NATS only. */
    consumerWaiting: number | null;
    /** Dead-lettered requests within store.retention; NATS only. */
    deadLetters: number | null;
  };
  /** Every condition that is not True, and a stale or missing status as one too. */
  notTrue: ConditionNotTrue[];
  /** Problems reading NATS for this config (stream or consumer missing, no permission). */
  natsProblems: string[];
  /** Ready=True for the current generation, and nothing missing in NATS. */
  ready: boolean;
}

/** The VeltrixConfigs asked for: one by name, a namespace's, or all (namespace undefined). */
export async function listConfigs(
  kc: KubeConfig,
  namespace: string | undefined,
  name: string | undefined,
): Promise<VeltrixConfig[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  if (name !== undefined) {
    const one = (await api.getNamespacedCustomObject({
      group,
      version,
      plural,
      namespace: namespace ?? "default",
      name,
    })) as VeltrixConfig;
    return [one];
  }
  const list = (
    namespace === undefined
      ? await api.listClusterCustomObject({ group, version, plural })
      : await api.listNamespacedCustomObject({ group, version, plural, namespace })
  ) as { items: VeltrixConfig[] };
  return list.items.sort(
    (a, b) =>
      (a.metadata?.namespace ?? "").localeCompare(b.metadata?.namespace ?? "") ||
      (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
  );
}

/** What the API server says: everything but the live queue. Pure. */
export function fromApiServer(v: VeltrixConfig): ConfigStatus {
  const s = v.status ?? {};
  const notTrue: ConditionNotTrue[] = (s.conditions ?? [])
    .filter((c) => c.status !== "True")
    .map(({ type, status, reason, message }) => ({ type, status, reason, message }));
  const generation = v.metadata?.generation;
  if (s.conditions === undefined || s.conditions.length === 0)
    notTrue.push({
      type: "Ready",
      status: "Unknown",
      reason: "NoStatus",
      message:
        "the operator has not reconciled this VeltrixConfig yet (is it running and watching this namespace?)",
    });
  else if (s.observedGeneration !== generation)
    notTrue.push({
      type: "Ready",
      status: "Unknown",
      reason: "StaleStatus",
      message: `the status is for generation ${s.observedGeneration ?? "none"}, the object is at generation ${generation ?? "none"}`,
    });
  return {
    namespace: v.metadata?.namespace ?? "",
    name: v.metadata?.name ?? "",
    revision: s.revision ?? "",
    pods: { injected: s.pods?.injected ?? 0, inSync: s.pods?.inSync ?? 0 },
    queue: {
      source: "status",
      depth: s.queue?.depth ?? null,
      consumerPending: s.queue?.consumerPending ?? null,
      consumerWaiting: null,
      deadLetters: null,
    },
    notTrue,
    natsProblems: [],
    ready: notTrue.length === 0,
  };
}

/** JetStream's "stream not found" (10059) and "consumer not found" (10014). */
function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 10059 || err.code === 10014);
}

/** Dead-lettered requests in the config's outcome bucket (0 when the bucket does not exist). */
export async function countDeadLetters(nc: NatsConnection, ref: ConfigRef): Promise<number> {
  const bucket = outcomeBucketName(ref);
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.streams.info(`KV_${bucket}`);
    if (info.state.messages === 0) return 0;
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw err;
  }
  const kv = await new Kvm(nc).open(bucket);
  const watch = await kv.watch();
  let count = 0;
  for await (const e of watch) {
    if (e.operation === "PUT") {
      try {
        if ((JSON.parse(e.string()) as { deadLettered?: unknown }).deadLettered === true) count++;
      } catch {
        // Not an outcome a sidecar wrote; not a dead letter either.
      }
    }
    if (e.delta === 0) break;
  }
  watch.stop();
  return count;
}

/** Adds what NATS says now about the config's stream, consumer and outcome bucket. */
export async function withNats(nc: NatsConnection, c: ConfigStatus): Promise<ConfigStatus> {
  const ref = { namespace: c.namespace, name: c.name };
  const jsm = await jetstreamManager(nc);
  const stream = streamName(ref);
  const queue: ConfigStatus["queue"] = {
    source: "nats",
    depth: null,
    consumerPending: null,
    consumerWaiting: null,
    deadLetters: null,
  };
  const problems: string[] = [];
  try {
    queue.depth = (await jsm.streams.info(stream)).state.messages;
    const consumer = await jsm.consumers.info(stream, consumerName);
    queue.consumerPending = consumer.num_ack_pending;
    queue.consumerWaiting = consumer.num_pending;
  } catch (err) {
    problems.push(
      isNotFound(err)
        ? queue.depth === null
          ? `stream ${stream} does not exist`
          : `consumer ${consumerName} of stream ${stream} does not exist`
        : `stream ${stream}: ${(err as Error).message}`,
    );
  }
  try {
    queue.deadLetters = await countDeadLetters(nc, ref);
  } catch (err) {
    problems.push(`outcome bucket ${outcomeBucketName(ref)}: ${(err as Error).message}`);
  }
  return { ...c, queue, natsProblems: problems, ready: c.ready && problems.length === 0 };
}

const dash = (n: number | null): string => (n === null ? "-" : String(n));

/** The text table, then one line for each condition that is not True and each NATS problem. */
export function renderStatusTable(configs: readonly ConfigStatus[], showNamespace: boolean): string {
  if (configs.length === 0) return "No VeltrixConfigs found.\n";
  const head = [
    ...(showNamespace ? ["NAMESPACE"] : []),
    "NAME",
    "READY",
    "REVISION",
    "PODS IN SYNC",
    "QUEUE DEPTH",
    "PENDING",
    "DEAD LETTERS",
  ];
  const rows = configs.map((c) => [
    ...(showNamespace ? [c.namespace] : []),
    c.name,
    c.ready ? "True" : "False",
    c.revision || "-",
    `${c.pods.inSync}/${c.pods.injected}`,
    dash(c.queue.depth),
    dash(c.queue.consumerPending),
    dash(c.queue.deadLetters),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]! + 3)))
      .join("")
      .trimEnd();
  const out = [line(head), ...rows.map(line)];
  const details: string[] = [];
  for (const c of configs) {
    const who = `${c.namespace}/${c.name}`;
    for (const n of c.notTrue) details.push(`${who}: ${n.type}=${n.status} ${n.reason}: ${n.message}`);
    for (const p of c.natsProblems) details.push(`${who}: NATS: ${p}`);
  }
  if (details.length > 0) out.push("", ...details);
  if (configs.some((c) => c.queue.source === "status"))
    out.push(
      "",
      "Queue depth and pending are the operator's at its last reconcile; dead letters need NATS (--nats-url).",
    );
  return `${out.join("\n")}\n`;
}
