// Runs the real helm binary with its config, cache and data dirs inside the test
// run, so nothing in the user's home is read or written.
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { toolPath } from "./tools.ts";

const run = promisify(execFile);

export interface HelmResult {
  stdout: string;
  stderr: string;
}

export async function helm(args: string[], opts: { home: string; kubeconfig?: string }): Promise<HelmResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env["PATH"],
    HOME: opts.home,
    HELM_CONFIG_HOME: join(opts.home, "config"),
    HELM_CACHE_HOME: join(opts.home, "cache"),
    HELM_DATA_HOME: join(opts.home, "data"),
  };
  mkdirSync(opts.home, { recursive: true });
  if (opts.kubeconfig) env["KUBECONFIG"] = opts.kubeconfig;
  try {
    return await run(toolPath("helm"), args, { env, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`helm ${args.join(" ")} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}
