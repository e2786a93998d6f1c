// Pipelined requests on one connection (RFC 9112 §9.3.2). node:http hands them over as
// they are parsed, so they would all run at once; a client may pipeline only safe
// methods and expect them to run in any order. So: a request with an unsafe method
// (POST, PUT, DELETE, ...) starts only once every request before it on its connection
// finished, and the requests after it wait for it. Safe ones run together as before.
// One Lane per connection, made when it opens (server.ts keeps it on the socket): per
// request two counters and no allocation unless a request has to wait. A per-request
// lookup (a WeakMap by socket) with a closure per turn cost ~10 % CPU per request in
// `direct` (docs/benchmarks.md, "Paired against the tree before issue 15").

const safeMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

export function isUnsafe(method: string | undefined): boolean {
  return !safeMethods.has(method ?? "GET");
}

interface Waiting {
  unsafe: boolean;
  start: () => void;
}

/** The requests of one connection: how many run, how many of them unsafe, who waits. */
export class Lane {
  private running = 0;
  private unsafeRunning = 0;
  private waiting: Waiting[] | undefined;

  /** Resolves when the request may start; undefined when it may start now. */
  take(unsafe: boolean): Promise<void> | undefined {
    if ((this.waiting === undefined || this.waiting.length === 0) && this.mayStart(unsafe)) {
      this.start(unsafe);
      return undefined;
    }
    const waiting = (this.waiting ??= []);
    return new Promise<void>((resolve) => waiting.push({ unsafe, start: resolve }));
  }

  /** A request that took its turn finished: lets the next ones start. */
  done(unsafe: boolean): void {
    this.running--;
    if (unsafe) this.unsafeRunning--;
    const waiting = this.waiting;
    if (waiting === undefined) return;
    for (let next = waiting[0]; next && this.mayStart(next.unsafe); next = waiting[0]) {
      waiting.shift();
      this.start(next.unsafe);
      next.start();
    }
  }

  private mayStart(unsafe: boolean): boolean {
    return unsafe ? this.running === 0 : this.unsafeRunning === 0;
  }

  private start(unsafe: boolean): void {
    this.running++;
    if (unsafe) this.unsafeRunning++;
  }
}
