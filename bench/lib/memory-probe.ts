// Preloaded into a measured process (`node --import bench/lib/memory-probe.ts ...`): on
// SIGUSR2 it writes where the process's memory is to $VX_MEMORY_PROBE_FILE as JSON: the
// main isolate's process.memoryUsage() and V8 heap spaces, and the heap statistics of every
// worker thread's isolate (found through the worker_threads diagnostics channel), then the
// main heap in use after a full garbage collection (what is live, not garbage waiting).
import { subscribe } from "node:diagnostics_channel";
import { writeFileSync } from "node:fs";
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Worker } from "node:worker_threads";

const workers = new Set<Worker>();
subscribe("worker_threads", (message) => {
  const { worker } = message as { worker: Worker };
  workers.add(worker);
  worker.once("exit", () => workers.delete(worker));
});

const file = process.env["VX_MEMORY_PROBE_FILE"];
if (file) {
  process.on("SIGUSR2", () => {
    void (async () => {
      const workerHeaps = await Promise.all([...workers].map((w) => w.getHeapStatistics()));
      const snapshot = {
        memoryUsage: process.memoryUsage(),
        heap: getHeapStatistics(),
        spaces: getHeapSpaceStatistics(),
        workers: workerHeaps,
        liveAfterGc: 0,
      };
      setFlagsFromString("--expose-gc");
      (runInNewContext("gc") as () => void)();
      snapshot.liveAfterGc = process.memoryUsage().heapUsed;
      writeFileSync(`${file}.tmp`, JSON.stringify(snapshot));
      const { renameSync } = await import("node:fs");
      renameSync(`${file}.tmp`, file);
    })();
  });
}
