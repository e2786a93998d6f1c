// Load generators for bench/webhook-latency.ts, run in a worker thread so the client
// does not share the webhook's event loop. kind "reviews": `warmup` then `requests` AdmissionReviews at
// `concurrency` in flight over keep-alive TLS; posts back each request's latency (ms).
import { Agent, request } from "node:https";
import { parentPort, workerData } from "node:worker_threads";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { podBody } from "./webhook-fixtures.ts";

interface Job {
  kind: "reviews";
  port: number;
  ca: string;
  body: string;
  concurrency: number;
  /** Unrecorded requests first, on the same connections (the API server keeps them alive). */
  warmup: number;
  requests: number;
}

/** Pod creations through the API server with client-node, `concurrency` in flight. */
interface PodsJob {
  kind: "pods";
  kubeconfigPath: string;
  namespace: string;
  round: number;
  count: number;
  concurrency: number;
}

const data = workerData as Job | PodsJob;

function once(job: Job, agent: Agent): Promise<number> {
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

async function burst(job: Job, agent: Agent, requests: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next < requests) {
        next++;
        latencies.push(await once(job, agent));
      }
    }),
  );
  return latencies;
}

async function reviews(job: Job): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency, ca: job.ca });
  await burst(job, agent, job.warmup);
  const t0 = performance.now();
  const latencies = await burst(job, agent, job.requests);
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  parentPort?.postMessage({ latencies, seconds });
}

async function pods(job: PodsJob): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(job.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next < job.count) {
        const i = next++;
        const s = performance.now();
        await core.createNamespacedPod({ namespace: job.namespace, body: podBody(`${job.round}-${i}`) });
        latencies.push(performance.now() - s);
      }
    }),
  );
  parentPort?.postMessage({ latencies, seconds: (performance.now() - t0) / 1000 });
}

(data.kind === "pods" ? pods(data) : reviews(data)).catch((err: unknown) => {
  throw err;
});
