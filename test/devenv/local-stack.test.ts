// The README's main command runs devenv/local-stack.ts after set-up; this runs the
// same script in --check mode: it must bring the real stack up, verify it and stop.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { tempDir } from "../harness/env.ts";
import { repoRoot } from "../../devenv/tools.ts";

const run = promisify(execFile);

describe("devenv/local-stack.ts --check", () => {
  it("brings up control plane, NATS, operator and a sidecar; a request reaches the app with the operator's revision", async () => {
    const dir = tempDir("local-stack");
    const { stdout } = await run(
      process.execPath,
      [join(repoRoot, "devenv/local-stack.ts"), "--check", "--dir", dir],
      {
        cwd: repoRoot,
        timeout: 120_000,
      },
    );
    expect(stdout).toMatch(/Kubernetes API +https:\/\/127\.0\.0\.1:\d+ +\(v1\.\d+\.\d+\)/);
    expect(stdout).toMatch(/NATS JetStream +nats:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).toContain(`export KUBECONFIG=${join(dir, "control-plane", "kubeconfig")}`);
    expect(stdout).toMatch(/VeltrixConfig +default\/minimal +Ready, revision [0-9a-f]{8,}/);
    expect(stdout).toMatch(/sidecar proxy +http:\/\/127\.0\.0\.1:\d+ +→ demo app/);
    expect(stdout).toContain("local stack check passed");
  });
});
