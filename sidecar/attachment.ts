// The lifecycle of what a sidecar process starts after its listeners (the NATS queue,
// the KV config watch): readiness, detail for /readyz, and an ordered drain.
/** Something started after the listeners (NATS queue, KV watch) that must stop in order. */
export interface Attachment {
  readonly ready: boolean;
  readonly notReadyReason: string;
  detail(): Record<string, unknown>;
  /** Stop taking new work; finish or hand back in-flight work within `graceMs`. */
  drain(graceMs: number): Promise<void>;
}
