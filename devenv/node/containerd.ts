// containerd (Debian's 1.6, with runc and the CNI plugins) for one node: its own config,
// root (images and snapshots, under the environment's dir) and state, socket and shim
// sockets (the namespace's private /run), and a bridge CNI network on the node's bridge.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ManagedProcess } from "../process.ts";
import { type NodeNamespace, nodeNetwork } from "./namespace.ts";

const exec = promisify(execFile);

export const containerdSocket = "/run/containerd/containerd.sock";
/** The sandbox image every pod starts with (built here from Kubernetes' pause.c). */
export const pauseImage = "registry.k8s.io/pause:3.10.1";
export const cniBinDir = "/usr/lib/cni";

export interface Containerd {
  readonly process: ManagedProcess;
  /** `ctr -n k8s.io images import FILE` (a docker-archive or OCI archive). */
  importImage(archive: string): Promise<void>;
  /** `ctr` inside the namespace, in containerd's k8s.io namespace. */
  ctr(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

function config(dir: string): string {
  return `version = 2
root = ${JSON.stringify(join(dir, "root"))}
state = "/run/containerd/state"
oom_score = 0

[grpc]
  address = ${JSON.stringify(containerdSocket)}

[ttrpc]
  address = "/run/containerd/containerd.sock.ttrpc"

[debug]
  level = "warn"

[plugins."io.containerd.internal.v1.opt"]
  path = ${JSON.stringify(join(dir, "opt"))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${JSON.stringify(pauseImage)}
  # The machine lacks CAP_SYS_RESOURCE: without this, runc cannot lower a sandbox's
  # oom_score_adj below its parent's and fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${JSON.stringify(cniBinDir)}
    conf_dir = ${JSON.stringify(join(dir, "net.d"))}
`;
}

function cniConfig(dir: string): string {
  const { bridge, nodeIp, podSubnet } = nodeNetwork;
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "veltrix",
      plugins: [
        {
          type: "bridge",
          bridge,
          isGateway: true,
          // Pods' default route through the node, so Service IPs (DNAT by kube-proxy) route.
          isDefaultGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: podSubnet, gateway: nodeIp }]],
            dataDir: join(dir, "ipam"),
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export async function startContainerd(ns: NodeNamespace, opts: { dir: string }): Promise<Containerd> {
  const dir = join(opts.dir, "containerd");
  mkdirSync(join(dir, "net.d"), { recursive: true });
  const configFile = join(dir, "config.toml");
  writeFileSync(configFile, config(dir));
  writeFileSync(join(dir, "net.d", "10-veltrix.conflist"), cniConfig(dir));
  for (const plugin of ["bridge", "host-local", "loopback", "portmap"]) {
    if (!existsSync(join(cniBinDir, plugin))) {
      throw new Error(
        `CNI plugin ${plugin} missing in ${cniBinDir} (apt-get install containernetworking-plugins)`,
      );
    }
  }
  const proc = new ManagedProcess(
    ns.inside({
      name: "containerd",
      command: "containerd",
      args: ["--config", configFile],
      logFile: join(opts.dir, "containerd.log"),
    }),
  );
  proc.start();
  const ctr = (args: string[]): Promise<string> =>
    ns.run("ctr", ["--address", containerdSocket, "-n", "k8s.io", ...args], 300_000);
  await proc.waitUntil("serving", async () => (await ctr(["version"])).includes("Server"), 30_000);
  return {
    process: proc,
    ctr,
    async importImage(archive) {
      await ctr(["images", "import", archive]);
    },
    async stop() {
      await proc.stop(10_000);
    },
  };
}

/** The programs the node needs from the machine's packages, with the package that brings each. */
export async function missingNodePackages(): Promise<string[]> {
  const missing: string[] = [];
  const need: [string, string][] = [
    ["containerd", "containerd"],
    ["ctr", "containerd"],
    ["runc", "runc"],
    ["iptables", "iptables"],
    ["nsenter", "util-linux"],
    ["unshare", "util-linux"],
    ["ip", "iproute2"],
  ];
  for (const [program, pkg] of need) {
    try {
      await exec("sh", ["-c", `command -v ${program}`]);
    } catch {
      missing.push(`${program} (${pkg})`);
    }
  }
  if (!existsSync(join(cniBinDir, "bridge")))
    missing.push(`${cniBinDir}/bridge (containernetworking-plugins)`);
  return missing;
}
