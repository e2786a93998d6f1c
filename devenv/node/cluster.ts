// A real single-node cluster for tests and the local stack: the control plane
// (devenv/control-plane.ts) and a node (containerd + runc + bridge CNI, kubelet,
// kube-scheduler, kube-proxy in iptables mode, CoreDNS), all inside a network namespace of
// its own, reached from here through forwarded loopback ports. Started, watched (each is a
// ManagedProcess with a log) and stopped; stopping leaves no process, mount, cgroup,
// network namespace or socket behind.
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, DiscoveryV1Api } from "@kubernetes/client-node";
import { type ControlPlane, startControlPlane } from "../control-plane.ts";
import { freePorts } from "../ports.ts";
import { ManagedProcess } from "../process.ts";
import { repoRoot, toolPath } from "../tools.ts";
import { createCgroupRoot, removeCgroupRoot } from "./cgroups.ts";
import { type Containerd, missingNodePackages, pauseImage, startContainerd } from "./containerd.ts";
import { buildImage } from "./image-build.ts";
import { kubeletProcess, nodeName } from "./kubelet.ts";
import {
  createNodeNamespace,
  type NodeNamespace,
  nodeNetwork,
  removeStaleNodeNamespaces,
} from "./namespace.ts";

export interface NodeCluster {
  readonly controlPlane: ControlPlane;
  readonly namespace: NodeNamespace;
  readonly containerd: Containerd;
  readonly nodeName: string;
  readonly dir: string;
  /** Seconds from start to the node Ready (measured). */
  readonly timings: Record<string, number>;
  /**
   * Makes `host:port` as seen inside the namespace (a ClusterIP, a pod IP, or a Service DNS
   * name resolved by the cluster DNS) reachable at the returned loopback port here.
   */
  expose(target: string, port: number): Promise<number>;
  importImage(archive: string): Promise<void>;
  stop(): Promise<void>;
}

export class NodeUnavailableError extends Error {
  readonly code = "VX_ERR_NODE_UNAVAILABLE";
  constructor(missing: string[]) {
    super(`this machine cannot run the test node: ${missing.join("; ")}`);
    this.name = "NodeUnavailableError";
  }
}

/** What this machine lacks to run a node (empty when it can). */
export async function nodePrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (network namespaces, mounts, cgroups)");
  missing.push(...(await missingNodePackages()));
  if (!readFileSync("/proc/filesystems", "utf8").includes("overlay"))
    missing.push("overlayfs (containerd's snapshotter)");
  for (const tool of ["kubelet", "kube-scheduler", "kube-proxy", "coredns", "pause"] as const) {
    try {
      toolPath(tool);
    } catch {
      missing.push(`${tool} (bash scripts/provision-test-env.sh)`);
    }
  }
  return missing;
}

function writeKubeconfig(path: string, server: string, caFile: string, token: string): void {
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "veltrix", cluster: { server, "certificate-authority": caFile } }],
    users: [{ name: "user", user: { token } }],
    contexts: [{ name: "veltrix", context: { cluster: "veltrix", user: "user" } }],
    "current-context": "veltrix",
  };
  writeFileSync(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
}

async function buildPauseImage(dir: string): Promise<string> {
  const rootfs = join(dir, "pause-rootfs");
  mkdirSync(rootfs, { recursive: true });
  copyFileSync(toolPath("pause"), join(rootfs, "pause"));
  chmodSync(join(rootfs, "pause"), 0o755);
  const { archive } = await buildImage(
    { reference: pauseImage, layers: [rootfs], config: { entrypoint: ["/pause"], user: "65535:65535" } },
    join(dir, "images"),
  );
  return archive;
}

export interface NodeClusterOptions {
  dir: string;
  /** Extra images (docker-archive files) to import before the node starts. */
  images?: string[];
}

export async function startNodeCluster(opts: NodeClusterOptions): Promise<NodeCluster> {
  const missing = await nodePrerequisites();
  if (missing.length > 0) throw new NodeUnavailableError(missing);
  // What an environment killed before its stop left behind: its namespace and cgroups.
  for (const stale of await removeStaleNodeNamespaces()) await removeCgroupRoot(stale);
  const started = Date.now();
  const timings: Record<string, number> = {};
  const mark = (what: string): void => {
    timings[what] = (Date.now() - started) / 1000;
  };
  const id = randomBytes(4).toString("hex");
  const dir = join(opts.dir, `node-${id}`);
  mkdirSync(dir, { recursive: true });
  const namespace = await createNodeNamespace({ dir, id });
  const cgroupRoot = namespace.name;
  const processes: ManagedProcess[] = [];
  const sockets: string[] = [];
  let controlPlane: ControlPlane | undefined;
  let containerd: Containerd | undefined;

  const stop = async (): Promise<void> => {
    for (const p of [...processes].reverse()) await p.stop(5_000);
    await containerd?.stop();
    await controlPlane?.stop();
    // Containers whose shims are gone still sit in the node's cgroups.
    const { leftover } = await removeCgroupRoot(cgroupRoot);
    await namespace.destroy();
    for (const socket of sockets) rmSync(socket, { force: true });
    if (leftover.length > 0) throw new Error(`cgroups left behind: ${leftover.join(", ")}`);
  };

  let forwards = 0;
  const forwardScript = join(repoRoot, "devenv/node/forward.ts");
  const expose = async (target: string, port: number): Promise<number> => {
    const n = forwards++;
    const socket = join(tmpdir(), `${namespace.name}-${n}.sock`);
    sockets.push(socket);
    const inner = new ManagedProcess(
      namespace.inside({
        name: `forward-${n}-inside`,
        command: process.execPath,
        args: [forwardScript, "unix", socket, `${target}:${port}`, nodeNetwork.dnsServiceIp],
        logFile: join(dir, "forward.log"),
      }),
    );
    processes.push(inner);
    inner.start();
    await inner.waitUntil("listening", () => Promise.resolve(existsSync(socket)), 10_000);
    const [local] = await freePorts(1);
    const outer = new ManagedProcess({
      name: `forward-${n}`,
      command: process.execPath,
      args: [forwardScript, "tcp", `127.0.0.1:${local}`, socket],
      logFile: join(dir, "forward.log"),
    });
    processes.push(outer);
    outer.start();
    await outer.waitUntil(
      "listening",
      () => Promise.resolve(outer.tail(50).includes(`127.0.0.1:${local} ->`)),
      10_000,
    );
    return local;
  };

  try {
    createCgroupRoot(cgroupRoot);
    const nodeToken = randomBytes(24).toString("hex");
    controlPlane = await startControlPlane({
      dir,
      network: {
        advertiseAddress: nodeNetwork.nodeIp,
        certificateIps: [nodeNetwork.apiServiceIp],
        inside: (spec) => namespace.inside(spec),
        expose: (port) => expose("127.0.0.1", port),
      },
      extraTokens: [{ token: nodeToken, user: `system:node:${nodeName}`, groups: ["system:nodes"] }],
    });
    mark("control plane");
    const cp = controlPlane;
    const nodeKubeconfig = join(dir, "kubeconfig-node");
    writeKubeconfig(nodeKubeconfig, cp.inside.server, cp.caFile, nodeToken);

    containerd = await startContainerd(namespace, { dir });
    const pause = await buildPauseImage(dir);
    await containerd.importImage(pause);
    for (const image of opts.images ?? []) await containerd.importImage(image);
    mark("containerd and images");

    const kubelet = kubeletProcess(namespace, { dir, kubeconfigPath: nodeKubeconfig, cgroupRoot });
    processes.push(kubelet);
    kubelet.start();

    const [schedulerPort] = await freePorts(1);
    const scheduler = new ManagedProcess(
      namespace.inside({
        name: "kube-scheduler",
        command: toolPath("kube-scheduler"),
        args: [
          `--kubeconfig=${cp.inside.kubeconfigPath}`,
          `--authentication-kubeconfig=${cp.inside.kubeconfigPath}`,
          `--authorization-kubeconfig=${cp.inside.kubeconfigPath}`,
          "--leader-elect=false",
          "--bind-address=127.0.0.1",
          `--secure-port=${schedulerPort}`,
          "--v=1",
        ],
        logFile: join(dir, "kube-scheduler.log"),
      }),
    );
    processes.push(scheduler);
    scheduler.start();

    const proxyConfig = join(dir, "kube-proxy.json");
    writeFileSync(
      proxyConfig,
      JSON.stringify({
        apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
        kind: "KubeProxyConfiguration",
        clientConnection: { kubeconfig: cp.inside.kubeconfigPath },
        mode: "iptables",
        hostnameOverride: nodeName,
        clusterCIDR: nodeNetwork.podCidr,
        bindAddress: nodeNetwork.nodeIp,
        healthzBindAddress: "127.0.0.1:10256",
        metricsBindAddress: "127.0.0.1:10249",
        // 0 leaves the conntrack sysctls as they are (nf_conntrack_max is machine-wide).
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
        iptables: { localhostNodePorts: false, syncPeriod: "10s", minSyncPeriod: "0s" },
      }),
    );
    const proxy = new ManagedProcess(
      namespace.inside({
        name: "kube-proxy",
        command: toolPath("kube-proxy"),
        args: [`--config=${proxyConfig}`, "--v=1"],
        logFile: join(dir, "kube-proxy.log"),
      }),
    );
    processes.push(proxy);
    proxy.start();

    const corefile = join(dir, "Corefile");
    writeFileSync(
      corefile,
      [
        ".:53 {",
        `  bind ${nodeNetwork.nodeIp}`,
        "  errors",
        "  health 127.0.0.1:18080",
        "  ready 127.0.0.1:18181",
        `  kubernetes ${nodeNetwork.clusterDomain} in-addr.arpa ip6.arpa {`,
        `    kubeconfig ${cp.inside.kubeconfigPath}`,
        "    pods insecure",
        "    fallthrough in-addr.arpa ip6.arpa",
        "    ttl 5",
        "  }",
        "  cache 5",
        "  loadbalance",
        "}",
        "",
      ].join("\n"),
    );
    const coredns = new ManagedProcess(
      namespace.inside({
        name: "coredns",
        command: toolPath("coredns"),
        args: ["-conf", corefile],
        logFile: join(dir, "coredns.log"),
      }),
    );
    processes.push(coredns);
    coredns.start();

    const kc = cp.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    await createDnsService(core, kc.makeApiClient(DiscoveryV1Api));

    await kubelet.waitUntil(
      "node Ready",
      async () => {
        const node = await core.readNode({ name: nodeName });
        return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
      },
      120_000,
    );
    mark("node ready");
    await coredns.waitUntil(
      "ready",
      async () => {
        const probe =
          "fetch('http://127.0.0.1:18181/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))";
        await namespace.run(process.execPath, ["-e", probe], 5_000);
        return true;
      },
      30_000,
    );
    return {
      controlPlane: cp,
      namespace,
      containerd,
      nodeName,
      dir,
      timings,
      expose,
      importImage: (archive) => containerd!.importImage(archive),
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

async function createDnsService(core: CoreV1Api, discovery: DiscoveryV1Api): Promise<void> {
  const namespace = "kube-system";
  const ports = [
    { name: "dns", port: 53, protocol: "UDP" },
    { name: "dns-tcp", port: 53, protocol: "TCP" },
  ];
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: "kube-dns", labels: { "k8s-app": "kube-dns" } },
      spec: { clusterIP: nodeNetwork.dnsServiceIp, ports: ports.map((p) => ({ ...p, targetPort: 53 })) },
    },
  });
  // CoreDNS runs as a node process on the node's address, so its Service has no selector.
  await discovery.createNamespacedEndpointSlice({
    namespace,
    body: {
      metadata: { name: "kube-dns-node", labels: { "kubernetes.io/service-name": "kube-dns" } },
      addressType: "IPv4",
      endpoints: [{ addresses: [nodeNetwork.nodeIp], conditions: { ready: true } }],
      ports,
    },
  });
}
