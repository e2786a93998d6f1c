// The kubelet's cgroup root for one environment (`/veltrix-<id>` in every hierarchy), so
// two environments never share `kubepods`, and stopping can find, kill and remove every
// container the node ran, even one whose shim is gone.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const cgroupFs = "/sys/fs/cgroup";

/** The hierarchies to use: the v1 controllers mounted here, or the one v2 hierarchy. */
export function cgroupHierarchies(): string[] {
  if (existsSync(join(cgroupFs, "cgroup.controllers"))) return [cgroupFs];
  return readdirSync(cgroupFs)
    .map((entry) => join(cgroupFs, entry))
    .filter((path) => {
      try {
        return statSync(path).isDirectory() && existsSync(join(path, "cgroup.procs"));
      } catch {
        return false;
      }
    });
}

export function cgroupVersion(): 1 | 2 {
  return existsSync(join(cgroupFs, "cgroup.controllers")) ? 2 : 1;
}

/** Creates `/<name>` in every hierarchy (cpuset gets its parent's cpus and mems). */
export function createCgroupRoot(name: string): void {
  for (const hierarchy of cgroupHierarchies()) {
    const path = join(hierarchy, name);
    mkdirSync(path, { recursive: true });
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      const own = join(path, file);
      if (!existsSync(own)) continue;
      if (readFileSync(own, "utf8").trim() === "") writeFileSync(own, readFileSync(join(hierarchy, file)));
    }
  }
}

function walk(path: string, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) if (entry.isDirectory()) walk(join(path, entry.name), out);
  out.push(path); // children first
}

function procsIn(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const dir of dirs) {
    try {
      for (const line of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) {
        if (line.trim()) pids.add(Number(line));
      }
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

/** Kills every process under `/<name>` and removes the cgroups, deepest first. */
export async function removeCgroupRoot(name: string): Promise<{ leftover: string[] }> {
  const dirs: string[] = [];
  for (const hierarchy of cgroupHierarchies()) walk(join(hierarchy, name), dirs);
  for (let round = 0; round < 50; round++) {
    const pids = procsIn(dirs);
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
  const leftover: string[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    let removed = false;
    for (let attempt = 0; attempt < 20 && !removed; attempt++) {
      try {
        rmdirSync(dir);
        removed = true;
      } catch {
        await sleep(100);
      }
    }
    if (!removed) leftover.push(dir);
  }
  return { leftover };
}
