// The operator as its own process (operator/main.ts) against the suite's API server and
// NATS: for the tests that need several replicas, a kill -9 or its real HTTP listeners.
import { join } from "node:path";
import { AdmissionregistrationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import { natsUrl } from "./env.ts";
import { freePort } from "../../devenv/ports.ts";
import { ManagedProcess } from "../../devenv/process.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { injectionWebhookConfiguration } from "../../devenv/webhook-config.ts";

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

/** The operator's flags for a webhook served on 127.0.0.1:`port` and its configuration `name`. */
export function localhostWebhookArgs(port: number, name: string): string[] {
  return [
    `--webhook-port=${port}`,
    "--webhook-host=127.0.0.1",
    "--webhook-service=localhost",
    "--webhook-secret=webhook-tls",
    `--webhook-config-name=${name}`,
  ];
}

/**
 * An operator process's webhook on localhost, registered with the API server as `name` for
 * pods opted in (`veltrix.io/inject: "true"`) in namespaces labelled
 * `veltrix.test/webhook: <name>`: `args` go to operatorProcess, `register` creates the
 * MutatingWebhookConfiguration and `unregister` deletes it (never failing).
 */
export async function localhostWebhook(
  kc: KubeConfig,
  name: string,
): Promise<{ args: string[]; register(): Promise<void>; unregister(): Promise<void> }> {
  const port = await freePort();
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  return {
    args: localhostWebhookArgs(port, name),
    register: async () => {
      await admission.createMutatingWebhookConfiguration({
        body: injectionWebhookConfiguration({
          name,
          url: `https://localhost:${port}/mutate`,
          namespaceSelector: { "veltrix.test/webhook": name },
          objectSelector: { "veltrix.io/inject": "true" },
        }),
      });
    },
    unregister: async () => {
      await admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
    },
  };
}
