// CPU profiles of a window only (not the process's whole life, as --cpu-prof gives):
// the sidecar runs with --inspect=127.0.0.1:PORT (node:cluster gives worker i the port
// PORT + i), and the bench starts V8's profiler on every worker over the DevTools
// protocol when a window starts and stops it when the window ends.
import { writeFileSync } from "node:fs";

interface Session {
  ws: WebSocket;
  call(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

async function open(port: number): Promise<Session | undefined> {
  const list = (await fetch(`http://127.0.0.1:${port}/json/list`)
    .then((r) => r.json())
    .catch(() => undefined)) as { webSocketDebuggerUrl: string }[] | undefined;
  const url = list?.[0]?.webSocketDebuggerUrl;
  if (!url) return undefined;
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const waiting = new Map<number, (r: Record<string, unknown>) => void>();
  ws.onmessage = (e: MessageEvent) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: Record<string, unknown> };
    if (m.id !== undefined) waiting.get(m.id)?.(m.result ?? {});
  };
  return {
    ws,
    call: (method, params = {}) =>
      new Promise((resolve) => {
        const n = ++id;
        waiting.set(n, resolve);
        ws.send(JSON.stringify({ id: n, method, params }));
      }),
  };
}

/** Starts profiling every inspector listening on `ports` (those not listening are skipped). */
export async function startProfiles(
  ports: number[],
  intervalUs = 500,
): Promise<(prefix?: string) => Promise<string[]>> {
  const sessions: { port: number; s: Session }[] = [];
  for (const port of ports) {
    const s = await open(port);
    if (!s) continue;
    await s.call("Profiler.enable");
    await s.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await s.call("Profiler.start");
    sessions.push({ port, s });
  }
  return async (prefix?: string) => {
    const files: string[] = [];
    for (const { port, s } of sessions) {
      const r = await s.call("Profiler.stop");
      s.ws.close();
      if (prefix) {
        const f = `${prefix}-${port}.cpuprofile`;
        writeFileSync(f, JSON.stringify(r["profile"]));
        files.push(f);
      }
    }
    return files;
  };
}
