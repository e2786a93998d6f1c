// The node's own world: a network namespace with a bridge (the node's address and the pods'
// gateway) and a private mount namespace for every node process. Nothing the node does
// touches the machine's network: the bridge, the pods' veths, kube-proxy's iptables rules
// and the sysctls set for them all live in the network namespace. Mounts the kubelet and
// containerd make (volumes, overlay roots, pod network namespaces, shim sockets under a
// private /run) live in the mount namespace, so the kernel drops them when its last
// process ends. Each environment gets its own names, so several can run on one machine.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { ManagedProcess, type ProcessSpec } from "../process.ts";

const exec = promisify(execFile);

/** Addresses inside the namespace; the same in every environment, since each has its own network. */
export const nodeNetwork = {
  bridge: "vx0",
  /** The node's address (kubelet --node-ip, the API server's advertise address): the bridge's. */
  nodeIp: "10.244.0.1",
  podSubnet: "10.244.0.0/24",
  podCidr: "10.244.0.0/16",
  serviceCidr: "10.96.0.0/16",
  /** The `kubernetes` Service's ClusterIP (first of serviceCidr). */
  apiServiceIp: "10.96.0.1",
  dnsServiceIp: "10.96.0.10",
  clusterDomain: "cluster.local",
} as const;

export interface NodeNamespace {
  /** Unique per environment: the network namespace's name, the kubelet's cgroup root. */
  readonly name: string;
  readonly holder: ManagedProcess;
  /** The same spec, run inside the node's network and mount namespaces. */
  inside(spec: ProcessSpec): ProcessSpec;
  /** Runs a command inside the namespaces and returns its stdout (throws on a non-zero exit). */
  run(command: string, args: string[], timeoutMs?: number): Promise<string>;
  /** Process ids of everything in the network namespace (node processes, shims, hostNetwork pods). */
  members(): number[];
  destroy(): Promise<void>;
}

async function ip(args: string[]): Promise<void> {
  await exec("ip", args, { timeout: 10_000 });
}

function netnsInode(pid: number | string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/**
 * Removes the network namespaces `veltrix-*` no process is in any more (an environment whose
 * owner was killed before it could stop it) and returns their names, so their cgroups can go
 * too. A namespace in use by a running environment is left alone.
 */
export async function removeStaleNodeNamespaces(): Promise<string[]> {
  if (!existsSync("/run/netns")) return [];
  const inUse = new Set<string>();
  for (const entry of readdirSync("/proc")) {
    if (/^\d+$/.test(entry)) {
      const link = netnsInode(entry);
      if (link) inUse.add(link);
    }
  }
  const removed: string[] = [];
  for (const name of readdirSync("/run/netns")) {
    if (!name.startsWith("veltrix-")) continue;
    let inode: number;
    try {
      inode = statSync(join("/run/netns", name)).ino;
    } catch {
      continue;
    }
    if (inUse.has(`net:[${inode}]`)) continue;
    await ip(["netns", "delete", name]).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/**
 * Creates the network namespace `veltrix-<id>` with loopback and the bridge up, and a holder
 * process whose private mount namespace every node process joins.
 */
export async function createNodeNamespace(opts: { dir: string; id?: string }): Promise<NodeNamespace> {
  const name = `veltrix-${opts.id ?? randomBytes(4).toString("hex")}`;
  await ip(["netns", "add", name]);
  const { bridge, nodeIp, podSubnet } = nodeNetwork;
  const prefix = podSubnet.split("/")[1] ?? "24";
  try {
    await ip(["-n", name, "link", "set", "lo", "up"]);
    await ip(["-n", name, "link", "add", bridge, "type", "bridge"]);
    await ip(["-n", name, "addr", "add", `${nodeIp}/${prefix}`, "dev", bridge]);
    await ip(["-n", name, "link", "set", bridge, "up"]);
    // Connections the node itself opens to a ClusterIP need a route before kube-proxy's
    // OUTPUT rules rewrite them to an endpoint.
    await ip(["-n", name, "route", "add", nodeNetwork.serviceCidr, "dev", bridge, "src", nodeIp]);
  } catch (err) {
    await ip(["netns", "delete", name]).catch(() => undefined);
    throw err;
  }

  // The holder: in the network namespace, with a new mount namespace (slave: the machine's
  // mounts still appear inside, nothing made inside leaks out), a private /run (containerd's
  // socket, shim sockets, pod netns files, the xtables lock) and /var/lib (the CNI cache).
  const script = [
    "set -e",
    "mount -t tmpfs -o mode=0755 veltrix-run /run",
    "mount -t tmpfs -o mode=0755 veltrix-var-lib /var/lib",
    "mkdir -p /run/containerd /var/lib/cni",
    // Bridged traffic goes through iptables, so Service traffic between pods on the bridge
    // is un-NATed on the way back (a per-namespace setting).
    "echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
    "echo ready",
    "exec sleep infinity",
  ].join("\n");
  const holder = new ManagedProcess({
    name: "node-namespace",
    command: "nsenter",
    args: [`--net=/run/netns/${name}`, "unshare", "--mount", "--propagation", "slave", "sh", "-c", script],
    logFile: join(opts.dir, "node-namespace.log"),
  });
  holder.start();
  try {
    await holder.waitUntil("ready", () => Promise.resolve(holder.tail(3).includes("ready")), 10_000);
  } catch (err) {
    await ip(["netns", "delete", name]).catch(() => undefined);
    throw err;
  }
  const holderPid = holder.pid ?? 0;
  const inode = netnsInode(holderPid);

  const inside = (spec: ProcessSpec): ProcessSpec => ({
    ...spec,
    command: "nsenter",
    args: ["-t", String(holderPid), "-n", "-m", "--", spec.command, ...spec.args],
  });

  const members = (): number[] => {
    const out: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      if (inode && netnsInode(entry) === inode) out.push(Number(entry));
    }
    return out;
  };

  return {
    name,
    holder,
    inside,
    members,
    async run(command, args, timeoutMs = 60_000) {
      const spec = inside({ name: command, command, args, logFile: "" });
      const { stdout } = await exec(spec.command, spec.args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
      return stdout;
    },
    async destroy() {
      // Everything still in the network namespace (shims left by a killed containerd,
      // hostNetwork containers) ends with it; the holder goes last.
      for (let round = 0; round < 20; round++) {
        const pids = members().filter((pid) => pid !== holderPid);
        if (pids.length === 0) break;
        for (const pid of pids) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
        await sleep(100);
      }
      await holder.stop(2_000);
      await ip(["netns", "delete", name]).catch(() => undefined);
    },
  };
}
