// Container images without a container engine: a root file system assembled in a directory
// becomes an OCI layer with umoci (unpack, copy, repack) (Debian), the image config (entrypoint, cmd, user, env,
// working dir, ports) is set with umoci config, and skopeo (Debian) writes the docker-archive
// that `ctr images import` reads. Both are the real OCI tools; no tarball is made by hand.
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

export interface ImageConfig {
  entrypoint?: readonly string[];
  cmd?: readonly string[];
  /** "uid:gid", numeric so runAsNonRoot can verify it. */
  user?: string;
  env?: Record<string, string>;
  workingDir?: string;
  exposedPorts?: readonly number[];
  labels?: Record<string, string>;
}

export interface ImageSpec {
  /** Full reference, e.g. "veltrix.dev/operator:dev". */
  reference: string;
  /** Root file system trees (ownership and modes as they are): one layer each, in order. */
  layers: string[];
  /** An OCI layout (from an earlier build) whose image this one starts from: its layers are shared. */
  from?: string;
  /** Write the docker-archive (default true); false keeps only the OCI layout (a base to build on). */
  archive?: boolean;
  config: ImageConfig;
}

async function run(command: string, args: string[]): Promise<void> {
  try {
    await exec(command, args, { timeout: 600_000, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** The umoci config flags for `config` (arrays as repeated flags, as umoci takes them). */
export function umociConfigArgs(config: ImageConfig): string[] {
  const args: string[] = ["--os", "linux", "--architecture", "amd64"];
  if (config.entrypoint) {
    args.push("--clear=config.entrypoint");
    for (const part of config.entrypoint) args.push("--config.entrypoint", part);
  }
  if (config.cmd) {
    args.push("--clear=config.cmd");
    for (const part of config.cmd) args.push("--config.cmd", part);
  }
  if (config.exposedPorts) args.push("--clear=config.exposedports");
  if (config.user) args.push("--config.user", config.user);
  for (const [key, value] of Object.entries(config.env ?? {})) args.push("--config.env", `${key}=${value}`);
  if (config.workingDir) args.push("--config.workingdir", config.workingDir);
  for (const port of config.exposedPorts ?? []) args.push("--config.exposedports", `${port}/tcp`);
  for (const [key, value] of Object.entries(config.labels ?? {}))
    args.push("--config.label", `${key}=${value}`);
  return args;
}

/**
 * Builds `spec` into `outDir/<name>.tar` (docker-archive, tagged with the reference) and
 * returns its path. The OCI layout is kept beside it (`<name>.oci`) for inspection.
 */
export async function buildImage(
  spec: ImageSpec,
  outDir: string,
): Promise<{ archive: string; layout: string }> {
  const name = (spec.reference.split("/").pop() ?? spec.reference).replace(/[:@]/g, "_");
  const layout = join(outDir, `${name}.oci`);
  const archive = join(outDir, `${name}.tar`);
  mkdirSync(outDir, { recursive: true });
  rmSync(layout, { recursive: true, force: true });
  rmSync(archive, { force: true });
  const image = `${layout}:image`;
  if (spec.from) {
    cpSync(spec.from, layout, { recursive: true });
  } else {
    await run("umoci", ["init", "--layout", layout]);
    await run("umoci", ["new", "--image", image]);
  }
  if (spec.layers.length > 0) {
    // unpack + repack, not `umoci insert`: Debian's umoci 0.4.7 writes insert layers without the
    // tar end-of-archive blocks (umoci issue 436, fixed in 0.4.8), which GNU tar and scanners reject.
    const bundle = join(outDir, `${name}.bundle`);
    rmSync(bundle, { recursive: true, force: true });
    await run("umoci", ["unpack", "--image", image, bundle]);
    for (const layer of spec.layers) {
      await run("cp", ["-a", `${layer}/.`, join(bundle, "rootfs")]);
      await run("umoci", [
        "repack",
        "--refresh-bundle",
        "--image",
        image,
        "--history.created_by",
        `veltrix devenv: ${layer}`,
        bundle,
      ]);
    }
    rmSync(bundle, { recursive: true, force: true });
  }
  await run("umoci", ["config", "--image", image, ...umociConfigArgs(spec.config)]);
  if (spec.archive !== false) {
    await run("skopeo", ["copy", "--quiet", `oci:${image}`, `docker-archive:${archive}:${spec.reference}`]);
  }
  return { archive, layout };
}
