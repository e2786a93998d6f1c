// Veltrix as cluster admins and app teams meet it, on the real node (devenv/node/): images
// built here and imported into the node's containerd, the chart installed by helm with its
// bundled NATS, and the demo app deployed as an app team would. What the node suite, the
// kind script's checks (test/e2e/kind/checks.ts) and scripts/local-up.sh share.
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
} from "@kubernetes/client-node";
import type { VeltrixConfigSpec } from "../../api/types.generated.ts";
import { eventually } from "../eventually.ts";
import { helm } from "../helm.ts";
import { repoRoot, toolPath } from "../tools.ts";
import { createVeltrixConfig, getVeltrixConfig } from "../veltrixconfig-client.ts";
import { type NodeCluster, nodePrerequisites, NodeUnavailableError, startNodeCluster } from "./cluster.ts";
import { type BuiltImage, buildNodeImages, imageReference, type ImageName } from "./images.ts";

const run = promisify(execFile);

export const releaseNamespace = "veltrix-system";
export const releaseName = "veltrix";

export interface VeltrixOnNode {
  cluster: NodeCluster;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  coordination: CoordinationV1Api;
  custom: CustomObjectsApi;
  helmHome: string;
  timings: Record<string, number>;
  images: Record<ImageName, BuiltImage>;
  bundle: string;
  kubectl(args: string[]): Promise<string>;
  helm(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** The chart values that point it at the images built here (never pulled). */
export function localImageValues(): string[] {
  const split = (name: "operator" | "sidecar" | "nats"): [string, string] => {
    const ref = imageReference(name);
    const at = ref.lastIndexOf(":");
    return [ref.slice(0, at), ref.slice(at + 1)];
  };
  const [operatorRepo, operatorTag] = split("operator");
  const [sidecarRepo, sidecarTag] = split("sidecar");
  const [natsRepo, natsTag] = split("nats");
  return [
    `operator.image.repository=${operatorRepo}`,
    `operator.image.tag=${operatorTag}`,
    "operator.image.pullPolicy=Never",
    `sidecar.image.repository=${sidecarRepo}`,
    `sidecar.image.tag=${sidecarTag}`,
    "sidecar.image.pullPolicy=Never",
    `nats.bundled.image.repository=${natsRepo}`,
    `nats.bundled.image.tag=${natsTag}`,
    "nats.bundled.image.pullPolicy=Never",
  ].flatMap((value) => ["--set", value]);
}

/** Builds the bundle and images, starts the node cluster and installs the chart. */
export async function startVeltrixOnNode(dir: string): Promise<VeltrixOnNode> {
  const missing = await nodePrerequisites();
  if (missing.length > 0) throw new NodeUnavailableError(missing);
  const started = Date.now();
  const timings: Record<string, number> = {};
  const mark = (what: string): void => {
    timings[what] = (Date.now() - started) / 1000;
  };
  mkdirSync(dir, { recursive: true });
  const bundle = join(dir, "bundle");
  await run("bash", [join(repoRoot, "scripts/build-bundle.sh"), bundle], { maxBuffer: 16 << 20 }).catch(
    (err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build:bundle failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`, { cause: err });
    },
  );
  mark("bundle");
  const images = await buildNodeImages({ outDir: join(dir, "images"), bundle });
  mark("images");
  const cluster = await startNodeCluster({ dir, images: Object.values(images).map((i) => i.archive) });
  mark("node ready");
  const kc = cluster.controlPlane.kubeConfig();
  const helmHome = join(dir, "helm");
  const env: VeltrixOnNode = {
    cluster,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    helmHome,
    timings,
    images,
    bundle,
    async kubectl(args) {
      const { stdout } = await run(toolPath("kubectl"), [
        "--kubeconfig",
        cluster.controlPlane.kubeconfigPath,
        ...args,
      ]);
      return stdout;
    },
    async helm(args) {
      const { stdout } = await helm(args, {
        home: helmHome,
        kubeconfig: cluster.controlPlane.kubeconfigPath,
      });
      return stdout;
    },
    stop: () => cluster.stop(),
  };
  try {
    await env.helm([
      "install",
      releaseName,
      join(repoRoot, "charts/veltrix"),
      "-n",
      releaseNamespace,
      "--create-namespace",
      "--wait",
      "--timeout",
      "3m",
      "--set",
      "nats.install=true",
      "--set",
      "nats.bundled.persistence=emptyDir",
      ...localImageValues(),
    ]);
    mark("helm install");
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
  return env;
}

export function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/**
 * The demo app (devenv/demo-app.ts; its image built here, or `image` elsewhere) as an app team
 * would deploy it.
 */
export function demoDeployment(
  name: string,
  config: string,
  replicas = 1,
  image = imageReference("demo-app"),
): object {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          annotations: { "veltrix.io/config": config, "veltrix.io/app-port": "8080" },
        },
        spec: {
          containers: [
            {
              name: "app",
              image,
              imagePullPolicy: "Never",
              // Listening on the pod's address too, so the kubelet can probe it: the pod is
              // Ready only once the app answers, as an app team would deploy it.
              args: ["demo-app.ts", "8080", "http://127.0.0.1:15090", "0.0.0.0"],
              ports: [{ name: "http", containerPort: 8080 }],
              readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 1 },
              securityContext: {
                runAsNonRoot: true,
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
              },
            },
          ],
        },
      },
    },
  };
}

/** A Service in front of the sidecar's proxy port: what clients of the app call. */
export function demoService(name: string): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: 15080 }] },
  };
}

export interface DemoOptions {
  /** Made here, labelled veltrix.io/injection=enabled. */
  namespace: string;
  /** Of the VeltrixConfig, the Deployment (label app=<name>) and the Service. */
  name: string;
  spec: VeltrixConfigSpec;
  replicas?: number;
  /** The demo app's image (default: the one built here, imported into the node). */
  image?: string;
}

/**
 * What an app team does, in order: a namespace labelled for injection, a VeltrixConfig (waited
 * for until Ready), the demo Deployment annotated for it and a Service in front of the
 * sidecar. Resolves with a Ready pod and the config's revision once the pod is Ready.
 */
export async function deployDemo(kc: KubeConfig, o: DemoOptions): Promise<{ pod: V1Pod; revision: string }> {
  const core = kc.makeApiClient(CoreV1Api);
  const { namespace, name } = o;
  await core.createNamespace({
    body: { metadata: { name: namespace, labels: { "veltrix.io/injection": "enabled" } } },
  });
  await eventually(
    `the default ServiceAccount of ${namespace}`,
    () => core.readNamespacedServiceAccount({ name: "default", namespace }),
    60_000,
    250,
  );
  await createVeltrixConfig(kc, namespace, name, o.spec);
  const revision = await eventually(
    `VeltrixConfig ${namespace}/${name} Ready`,
    async () => {
      const vxc = await getVeltrixConfig(kc, namespace, name);
      const ready = vxc.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      return ready ? vxc.status?.revision : undefined;
    },
    60_000,
    250,
  );
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: demoDeployment(name, name, o.replicas ?? 1, o.image),
  });
  await core.createNamespacedService({ namespace, body: demoService(name) });
  const pod = await eventually(
    `a Ready ${namespace}/${name} pod`,
    async () =>
      (await core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items.find(podReady),
    120_000,
    250,
  );
  return { pod, revision };
}
