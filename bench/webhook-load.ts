// Load generator for bench/webhook-latency.ts, run in a worker thread so the client
// does not share the webhook's event loop: `warmup` then `requests` AdmissionReviews at
// `concurrency` in flight over keep-alive TLS; posts back each request's latency (ms).
import { Agent, request } from "node:https";
import { parentPort, workerData } from "node:worker_threads";

interface Job {
  port: number;
  ca: string;
  body: string;
  concurrency: number;
  /** Unrecorded requests first, on the same connections (the API server keeps them alive). */
  warmup: number;
  requests: number;
}

const job = workerData as Job;
const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency, ca: job.ca });

function once(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      {
        host: "127.0.0.1",
        port: job.port,
        path: "/mutate",
        method: "POST",
        agent,
        servername: "localhost",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(job.body) },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(performance.now() - t0)
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(job.body);
  });
}

async function burst(requests: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next < requests) {
        next++;
        latencies.push(await once());
      }
    }),
  );
  return latencies;
}

async function run(): Promise<void> {
  await burst(job.warmup);
  const t0 = performance.now();
  const latencies = await burst(job.requests);
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  parentPort?.postMessage({ latencies, seconds });
}

run().catch((err: unknown) => {
  throw err;
});
