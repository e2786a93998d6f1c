// The kubelet of the test node, configured for this machine: cgroup v1 with the cgroupfs
// driver, no CAP_SYS_RESOURCE (oomScoreAdj 0), swap tolerated, its own cgroup root, root dir
// and pod log dir, the bridge address as node IP, and no image garbage collection (images
// are imported, never pulled, so one collected could not come back).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ManagedProcess } from "../process.ts";
import { toolPath } from "../tools.ts";
import { containerdSocket } from "./containerd.ts";
import { type NodeNamespace, nodeNetwork } from "./namespace.ts";

export const nodeName = "veltrix-node";

export interface KubeletOptions {
  dir: string;
  /** Kubeconfig with the node's identity (system:node:<nodeName> in system:nodes). */
  kubeconfigPath: string;
  cgroupRoot: string;
}

function kubeletConfig(opts: KubeletOptions, dir: string): object {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // The kubelet's port is only reachable inside the node's network namespace.
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: "AlwaysAllow" },
    address: nodeNetwork.nodeIp,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    containerRuntimeEndpoint: `unix://${containerdSocket}`,
    cgroupDriver: "cgroupfs",
    cgroupRoot: `/${opts.cgroupRoot}`,
    failCgroupV1: false,
    failSwapOn: false,
    // runc cannot set a negative oom_score_adj without CAP_SYS_RESOURCE.
    oomScoreAdj: 0,
    clusterDNS: [nodeNetwork.dnsServiceIp],
    clusterDomain: nodeNetwork.clusterDomain,
    resolvConf: join(dir, "resolv.conf"),
    podLogsDir: join(dir, "pod-logs"),
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    imageMinimumGCAge: "24h",
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
    serializeImagePulls: false,
    syncFrequency: "10s",
    fileCheckFrequency: "10s",
    nodeStatusUpdateFrequency: "5s",
    shutdownGracePeriod: "0s",
    maxPods: 60,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    protectKernelDefaults: false,
    localStorageCapacityIsolation: true,
  };
}

export function kubeletProcess(ns: NodeNamespace, opts: KubeletOptions): ManagedProcess {
  const dir = join(opts.dir, "kubelet");
  mkdirSync(join(dir, "pod-logs"), { recursive: true });
  // Pods get the cluster DNS from clusterDNS; the node's own resolv.conf adds nothing.
  writeFileSync(join(dir, "resolv.conf"), "");
  const configFile = join(dir, "config.json");
  writeFileSync(configFile, JSON.stringify(kubeletConfig(opts, dir), null, 2));
  return new ManagedProcess(
    ns.inside({
      name: "kubelet",
      command: toolPath("kubelet"),
      args: [
        `--config=${configFile}`,
        `--kubeconfig=${opts.kubeconfigPath}`,
        // In the namespace's private /var/lib (a tmpfs): short socket paths, volumes that
        // vanish with the namespace.
        "--root-dir=/var/lib/kubelet",
        `--hostname-override=${nodeName}`,
        `--node-ip=${nodeNetwork.nodeIp}`,
        "--v=1",
      ],
      logFile: join(opts.dir, "kubelet.log"),
    }),
  );
}
