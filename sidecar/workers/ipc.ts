// Questions the --workers primary asks its workers over the cluster IPC channel, and
// their answers: one message type each way, told apart by `kind` and matched by id, so
// one listener per process serves every kind (readiness, record flushes).
import cluster, { type Worker } from "node:cluster";
import { logger } from "../log.ts";

const log = logger("workers");

const question = "veltrix:question";
const reply = "veltrix:answer";

interface Question {
  type: typeof question;
  kind: string;
  id: number;
}

interface Answer {
  type: typeof reply;
  id: number;
  value: unknown;
}

function isMessage<T extends Question | Answer>(m: unknown, type: T["type"]): m is T {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === type;
}

/**
 * In a worker: answers the primary's questions of this `kind` with what `read` gives (a
 * promise is awaited). A `read` that fails is logged and left unanswered: the primary
 * then treats the worker as silent.
 */
export function answerQuestions(kind: string, read: () => unknown): void {
  process.on("message", (m: unknown) => {
    if (!isMessage<Question>(m, question) || m.kind !== kind) return;
    Promise.resolve()
      .then(read)
      .then(
        (value: unknown) => {
          const answer: Answer = { type: reply, id: m.id, value };
          // The channel may close while the worker drains; the primary then times out.
          process.send?.(answer, () => undefined);
        },
        (err: unknown) => log.error("cannot answer the primary's question", { question: kind, err }),
      );
  });
}

let nextId = 0;
const pending = new Map<number, (value: unknown) => void>();
let listening = false;

function onAnswer(_w: Worker, m: unknown): void {
  if (isMessage<Answer>(m, reply)) pending.get(m.id)?.(m.value);
}

/**
 * In the primary: asks worker `w` a question of `kind`. Resolves with its answer, or with
 * `unanswered(sendError)` when the question could not be sent, or `unanswered()` when the
 * worker was silent for `timeoutMs` (stopped, stuck event loop).
 */
export function ask<T>(
  w: Worker,
  kind: string,
  timeoutMs: number,
  unanswered: (sendError?: Error) => T,
): Promise<T> {
  if (!listening) cluster.on("message", onAnswer);
  listening = true;
  const id = ++nextId;
  return new Promise<T>((resolve) => {
    const done = (value: T): void => {
      clearTimeout(timer);
      pending.delete(id);
      resolve(value);
    };
    const timer = setTimeout(() => done(unanswered()), timeoutMs);
    pending.set(id, (value) => done(value as T));
    const msg: Question = { type: question, kind, id };
    w.send(msg, (err) => {
      if (err) done(unanswered(err));
    });
  });
}

const listeningNote = "veltrix:listening";

/**
 * In a worker: tells the primary its proxy listens. Workers bind the port themselves
 * (SO_REUSEPORT, listen.ts), so node:cluster's own 'listening' event never fires.
 */
export function tellListening(): void {
  process.send?.({ type: listeningNote });
}

/** In the primary: calls `then` once the worker said its proxy listens. */
export function onListening(w: Worker, then: () => void): void {
  const seen = (m: unknown): void => {
    if (typeof m !== "object" || m === null || (m as { type?: unknown }).type !== listeningNote) return;
    w.off("message", seen);
    then();
  };
  w.on("message", seen);
}
