// Pipelined requests on one connection (RFC 9112 §9.3.2). node:http hands them over as
// they are parsed, so they would all run at once; a client may pipeline only safe
// methods and expect them to run in any order. So: a request with an unsafe method
// (POST, PUT, DELETE, ...) starts only once every request before it on its connection
// finished, and the requests after it wait for it. Safe ones run together as before.
// Cheap when there is no pipelining: a counter per connection, nothing to wait for.
import type { Socket } from "node:net";

const safeMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

interface Waiting {
  unsafe: boolean;
  start: () => void;
}

/** The requests of one connection: how many run, how many of them unsafe, who waits. */
interface Lane {
  running: number;
  unsafeRunning: number;
  waiting: Waiting[];
}

export interface Turn {
  /** Resolves when the request may start; undefined when it may start now. */
  ready: Promise<void> | undefined;
  /** The request finished: lets the next ones on its connection start. */
  done: () => void;
}

const lanes = new WeakMap<Socket, Lane>();

export function takeTurn(socket: Socket, method: string | undefined): Turn {
  let lane = lanes.get(socket);
  if (!lane) {
    lane = { running: 0, unsafeRunning: 0, waiting: [] };
    lanes.set(socket, lane);
  }
  const unsafe = !safeMethods.has(method ?? "GET");
  const l = lane;
  const done = (): void => {
    l.running--;
    if (unsafe) l.unsafeRunning--;
    startWaiting(l);
  };
  if (l.waiting.length === 0 && mayStart(l, unsafe)) {
    start(l, unsafe);
    return { ready: undefined, done };
  }
  const ready = new Promise<void>((resolve) => l.waiting.push({ unsafe, start: resolve }));
  return { ready, done };
}

function mayStart(lane: Lane, unsafe: boolean): boolean {
  return unsafe ? lane.running === 0 : lane.unsafeRunning === 0;
}

function start(lane: Lane, unsafe: boolean): void {
  lane.running++;
  if (unsafe) lane.unsafeRunning++;
}

function startWaiting(lane: Lane): void {
  for (let next = lane.waiting[0]; next && mayStart(lane, next.unsafe); next = lane.waiting[0]) {
    lane.waiting.shift();
    start(lane, next.unsafe);
    next.start();
  }
}
