// `veltrix validate` gives the API server's verdicts: every sample and every invalid case
// (test/api/invalid-configs.ts, one or more per CRD rule) goes through the command and
// through the real kube-apiserver (server-side dry run), and both accept or both refuse,
// with the case's message. The command runs as a process once for its exit codes.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { parse, stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { apiVersion, group, kind, plural, version } from "../../api/contract.ts";
import { run } from "../../cli/main.ts";
import { installCrd } from "../../devenv/crd.ts";
import { repoRoot } from "../../devenv/tools.ts";
import { invalidCases } from "../api/invalid-configs.ts";
import { createNamespace, kubeConfig, tempDir } from "../harness/env.ts";

const samplesDir = join(repoRoot, "crds/samples");

/** What the real API server says about creating `body`: undefined when it accepts it. */
async function apiServerVerdict(
  namespace: string,
  body: Record<string, unknown>,
): Promise<string | undefined> {
  return kubeConfig()
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({ group, version, namespace, plural, body, dryRun: "All" })
    .then(
      () => undefined,
      (err: unknown) => {
        const body = (err as { body?: unknown }).body;
        return typeof body === "string"
          ? ((JSON.parse(body) as { message?: string }).message ?? body)
          : String(err);
      },
    );
}

async function cliVerdict(file: string): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await run(
    ["validate", file],
    {},
    {
      stdout: (t) => (out += t),
      stderr: (t) => (out += t),
      readFile: (p) => readFileSync(p, "utf8"),
    },
  );
  return { code, out };
}

describe("veltrix validate against the real API server", () => {
  let namespace: string;
  beforeAll(async () => {
    await installCrd(kubeConfig());
    namespace = await createNamespace("vx-validate");
  });

  it.each(readdirSync(samplesDir).filter((f) => f.endsWith(".yaml")))(
    "accepts sample %s, as the API server does",
    async (file) => {
      const body = parse(readFileSync(join(samplesDir, file), "utf8")) as Record<string, unknown>;
      expect(await apiServerVerdict(namespace, body)).toBeUndefined();
      const { code, out } = await cliVerdict(join(samplesDir, file));
      expect(out).toMatch(/: valid\n$/);
      expect(code).toBe(0);
    },
  );

  it.each(invalidCases.map((c) => [c.what, c] as const))(
    "refuses %s, as the API server does",
    async (_what, c) => {
      const body = { apiVersion, kind, metadata: { name: c.name ?? "bad" }, spec: c.spec };
      const server = await apiServerVerdict(namespace, body);
      expect(server).toContain(c.message);
      const file = join(tempDir("vx-validate"), "config.yaml");
      writeFileSync(file, stringify(body));
      const { code, out } = await cliVerdict(file);
      expect(code, out).toBe(1);
      expect(out).toContain(`  ${c.field}: `);
      expect(out).toContain(c.message);
      expect(out).not.toMatch(/type conversion error|evaluating rule/);
    },
  );

  it("with --old, checks an update as the API server does: a changed stream storage is refused", async () => {
    const api = kubeConfig().makeApiClient(CustomObjectsApi);
    const name = "storage-change";
    const created = {
      apiVersion,
      kind,
      metadata: { name },
      spec: { queue: { stream: { storage: "file" } } },
    };
    await api.createNamespacedCustomObject({ group, version, namespace, plural, body: created });
    const stored = (await api.getNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      name,
    })) as Record<string, unknown>;
    const dir = tempDir("vx-validate-update");
    const storedFile = join(dir, "stored.yaml");
    writeFileSync(storedFile, stringify(stored));
    const message = "queue.stream.storage cannot be changed after creation";
    const update = async (spec: Record<string, unknown>) => {
      const body = { ...stored, spec };
      const server = await api
        .replaceNamespacedCustomObject({ group, version, namespace, plural, name, body, dryRun: "All" })
        .then(
          () => undefined,
          (err: unknown) => String((err as { body?: unknown }).body ?? err),
        );
      const file = join(dir, "update.yaml");
      writeFileSync(file, stringify(body));
      let out = "";
      const io = {
        stdout: (t: string) => (out += t),
        stderr: (t: string) => (out += t),
        readFile: (p: string) => readFileSync(p, "utf8"),
      };
      const code = await run(["validate", "--old", storedFile, file], {}, io);
      return { server, code, out };
    };
    // Another field changed: both accept (the positive control).
    const fine = await update({ queue: { stream: { storage: "file" }, maxConcurrency: 7 } });
    expect(fine.server).toBeUndefined();
    expect([fine.code, fine.out]).toEqual([0, expect.stringMatching(/: valid\n$/)]);
    // The storage changed: both refuse, with the rule's message on the field.
    const changed = await update({ queue: { stream: { storage: "memory" } } });
    expect(changed.server).toContain(message);
    expect(changed.code, changed.out).toBe(1);
    expect(changed.server).toContain(`spec.queue.stream.storage: Invalid value`);
    expect(changed.out).toMatch(new RegExp(`  spec.queue.stream.storage: Invalid value: "\\w+": ${message}`));
    // Created with that storage, it is valid: the rule is about the change only.
    expect((await cliVerdict(join(dir, "update.yaml"))).code).toBe(0);
  });

  it("runs as a process: exit codes, --output json, --help", async () => {
    const exec = promisify(execFile);
    const cli = join(repoRoot, "cli/main.ts");
    const ok = await exec(process.execPath, [
      cli,
      "validate",
      "--output",
      "json",
      join(samplesDir, "minimal.yaml"),
    ]);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      results: [{ name: "minimal", valid: true, problems: [] }],
      errors: [],
    });
    const bad = join(tempDir("vx-validate"), "bad.yaml");
    writeFileSync(
      bad,
      stringify({ apiVersion, kind, metadata: { name: "x" }, spec: { queue: { maxWait: "soon" } } }),
    );
    const refused = await exec(process.execPath, [cli, "validate", bad]).then(
      () => undefined,
      (err: { code: number; stdout: string }) => err,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stdout).toContain("spec.queue.maxWait: Invalid value");
    const missing = await exec(process.execPath, [cli, "validate", join(repoRoot, "no-such-file.yaml")]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(missing?.code).toBe(2);
    expect(missing?.stderr).toContain("no-such-file.yaml");
    const help = await exec(process.execPath, [cli, "--help"]);
    expect(help.stdout).toContain("--output FORMAT");
    expect(help.stdout).toContain("validate FILE");
  });
});
