// The operator as its own process (operator/main.ts) against the suite's API server and
// NATS: for the tests that need several replicas, a kill -9 or its real HTTP listeners.
import { join } from "node:path";
import { inject } from "vitest";
import { natsUrl } from "./env.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { repoRoot } from "../../devenv/tools.ts";

export function operatorProcess(o: {
  /** Also its leader-election identity. */
  name: string;
  logDir: string;
  namespace: string;
  watchNamespace: string;
  httpPort: number;
  /** Default: the suite's nats-server. */
  natsUrl?: string;
  args?: string[];
}): ManagedProcess {
  return new ManagedProcess({
    name: o.name,
    command: process.execPath,
    args: [
      join(repoRoot, "operator/main.ts"),
      `--kubeconfig=${inject("kubeconfigPath")}`,
      `--nats-url=${o.natsUrl ?? natsUrl()}`,
      `--namespace=${o.namespace}`,
      `--watch-namespace=${o.watchNamespace}`,
      `--identity=${o.name}`,
      `--http-port=${o.httpPort}`,
      "--http-host=127.0.0.1",
      ...(o.args ?? []),
    ],
    logFile: join(o.logDir, `${o.name}.log`),
  });
}
