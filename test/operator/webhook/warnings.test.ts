// What a user sees in `kubectl` when the webhook has something to say: the real
// kubectl creates pods through the real API server, which calls the real webhook
// over TLS and prints the AdmissionResponse warnings as "Warning: ..." lines.
import { spawn } from "node:child_process";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { toolPath } from "../../../devenv/tools.ts";
import { createVeltrixConfig } from "../../../devenv/veltrixconfig-client.ts";
import { createNamespace, kubeConfig } from "../../harness/env.ts";
import { startTestWebhook, type TestWebhook } from "./webhook-env.ts";

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** kubectl, asynchronously: the webhook it reaches through the API server runs in this process. */
function kubectl(args: string[], stdin: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(toolPath("kubectl"), args, {
      env: { PATH: process.env["PATH"], KUBECONFIG: inject("kubeconfigPath"), HOME: inject("runDir") },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

function warningsIn(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith("Warning: "))
    .map((line) => line.slice("Warning: ".length));
}

const container = (name: string, ports: number[], extra: Record<string, unknown> = {}) => ({
  name,
  image: `registry.example/${name}:1`,
  ports: ports.map((containerPort) => ({ containerPort })),
  ...extra,
});

function podYaml(
  name: string,
  spec: Record<string, unknown>,
  meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): string {
  const labels = { "veltrix.io/inject": "true", ...meta.labels };
  return stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, ...meta, labels }, spec });
}

const hasSidecar = (p: V1Pod) =>
  [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].some(
    (c) => c.name === "veltrix-sidecar",
  );

describe("admission warnings in kubectl output", () => {
  let webhook: TestWebhook;
  let namespace: string;

  beforeAll(async () => {
    webhook = await startTestWebhook();
    namespace = await createNamespace("vx-warn", webhook.selector);
    await createVeltrixConfig(kc, namespace, "default", { config: { a: "b" } });
  });
  afterAll(async () => {
    await webhook.close();
  });

  async function create(yaml: string): Promise<{ warnings: string[]; stdout: string }> {
    const run = await kubectl(["create", "-n", namespace, "-f", "-"], yaml);
    expect(run.code, run.stderr).toBe(0);
    return { warnings: warningsIn(run.stderr), stdout: run.stdout };
  }

  it("says why a pod that asked for injection was skipped, and how to fix it", async () => {
    const { warnings, stdout } = await create(
      podYaml("on-host", { hostNetwork: true, containers: [container("web", [8080])] }),
    );
    expect(stdout).toContain("pod/on-host created");
    expect(warnings).toEqual([
      `veltrix: not injected: the pod uses the host network, where the sidecar's ports would collide with the node's; remove hostNetwork: true, or set veltrix.io/inject: "false" to run it without Veltrix`,
    ]);
    expect(hasSidecar(await core.readNamespacedPod({ name: "on-host", namespace }))).toBe(false);
  });

  it("names the container and port it chose when several qualified", async () => {
    const { warnings } = await create(
      podYaml("two-apps", {
        containers: [container("api", [8080, 9102]), container("gateway", [9090])],
      }),
    );
    expect(warnings).toEqual([
      "veltrix: fronting container 'api', the first of 'api', 'gateway' that declare ports; set veltrix.io/app-container to choose",
      "veltrix: fronting port 8080 of container 'api', the first of 8080, 9102; set veltrix.io/app-port to choose",
    ]);
    // A server-side dry run shows the same (how a Deployment's author sees them: docs/webhook.md).
    const dry = await kubectl(
      ["create", "--dry-run=server", "-n", namespace, "-f", "-"],
      podYaml("two-apps-dry", { containers: [container("api", [8080, 9102]), container("gateway", [9090])] }),
    );
    expect(dry.stdout).toContain("pod/two-apps-dry created (server dry run)");
    expect(warningsIn(dry.stderr)).toEqual(warnings);
    const stored = await core.readNamespacedPod({ name: "two-apps", namespace });
    expect(hasSidecar(stored)).toBe(true);
    const sidecar = stored.spec?.initContainers?.find((c) => c.name === "veltrix-sidecar");
    expect(sidecar?.env?.find((e) => e.name === "VELTRIX_APP_PORT")?.value).toBe("8080");
  });

  it("is silent when the pod says which container and port", async () => {
    const { warnings } = await create(
      podYaml(
        "chosen",
        { containers: [container("api", [8080, 9102]), container("gateway", [9090])] },
        { annotations: { "veltrix.io/app-container": "gateway", "veltrix.io/app-port": "9090" } },
      ),
    );
    expect(warnings).toEqual([]);
  });

  it("names keys it ignores: a typo, the namespace label on a pod", async () => {
    const { warnings } = await create(
      podYaml(
        "typos",
        { containers: [container("web", [8080])] },
        {
          labels: { "veltrix.io/injection": "enabled" },
          annotations: { "veltrix.io/drain-secs": "10" },
        },
      ),
    );
    expect(warnings).toEqual([
      "veltrix: unknown annotation 'veltrix.io/drain-secs' is ignored (did you mean 'veltrix.io/drain-seconds'?)",
      `veltrix: label 'veltrix.io/injection' only works on a namespace and is ignored on a pod; to opt the pod in, set veltrix.io/inject: "true"`,
    ]);
  });

  it("says a pod that misspelled its opt-in was not injected, and names the key it meant", async () => {
    const yaml = stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "misspelled", annotations: { "veltrix.io/injetc": "true" } },
      spec: { containers: [container("web", [8080])] },
    });
    const { warnings } = await create(yaml);
    expect(warnings).toEqual([
      `veltrix: not injected: neither the pod nor its namespace opts in to injection; set veltrix.io/inject: "true" or label the namespace veltrix.io/injection=enabled`,
      "veltrix: unknown annotation 'veltrix.io/injetc' is ignored (did you mean 'veltrix.io/inject'?)",
    ]);
    expect(hasSidecar(await core.readNamespacedPod({ name: "misspelled", namespace }))).toBe(false);
  });

  it("warns about settings that will not do what was meant", async () => {
    const { warnings } = await create(
      podYaml(
        "drains",
        {
          terminationGracePeriodSeconds: 10,
          containers: [
            container("web", [8080], { lifecycle: { preStop: { exec: { command: ["/bin/flush"] } } } }),
          ],
        },
        { annotations: { "veltrix.io/app-port": "8081", "veltrix.io/drain-seconds": "10" } },
      ),
    );
    expect(warnings).toEqual([
      "veltrix: veltrix.io/app-port 8081 is not a port container 'web' declares (8080): a Service targeting those still reaches the app directly, past the sidecar",
      "veltrix: veltrix.io/drain-seconds 10 is not below terminationGracePeriodSeconds 10: the app gets SIGTERM with no time left to shut down; lower it or raise the grace period",
      "veltrix: container 'web' has its own preStop hook, so veltrix.io/drain-seconds adds no sleep to it; put the delay in that hook",
    ]);
  });

  it("warns about a pod-only annotation set on the namespace", async () => {
    const other = await createNamespace("vx-warn-ns", webhook.selector);
    await core.patchNamespace({
      name: other,
      body: [{ op: "add", path: "/metadata/annotations", value: { "veltrix.io/app-port": "8080" } }],
    });
    await createVeltrixConfig(kc, other, "default", { config: { a: "b" } });
    const run = await kubectl(
      ["create", "-n", other, "-f", "-"],
      podYaml("plain", { containers: [container("web", [8080])] }),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(warningsIn(run.stderr)).toEqual([
      `veltrix: annotation 'veltrix.io/app-port' on namespace '${other}' is ignored: it is per pod; set it on the pod (template)`,
    ]);
  });

  it("warns a Job's pod when the cluster has no native sidecars", async () => {
    const classic = await startTestWebhook({ features: { nativeSidecars: false, preStopSleep: false } });
    try {
      const ns = await createNamespace("vx-warn-classic", classic.selector);
      await createVeltrixConfig(kc, ns, "default", { config: { a: "b" } });
      const run = await kubectl(
        ["create", "-n", ns, "-f", "-"],
        podYaml(
          "job-pod",
          { restartPolicy: "Never", containers: [container("report", [8080])] },
          { annotations: { "veltrix.io/drain-seconds": "5" } },
        ),
      );
      expect(run.code, run.stderr).toBe(0);
      expect(warningsIn(run.stderr)).toEqual([
        "veltrix: restartPolicy Never without native sidecars (Kubernetes 1.29+): the sidecar keeps running after the app exits, so the pod never completes",
        "veltrix: veltrix.io/drain-seconds has no effect: this cluster has no preStop sleep action (Kubernetes 1.30+)",
      ]);
    } finally {
      await classic.close();
    }
  });
});
