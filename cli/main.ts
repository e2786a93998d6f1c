#!/usr/bin/env node
// `veltrix`: the command for the people who run Veltrix. Subcommands:
//   validate FILE…  VeltrixConfigs checked offline against the CRD's schema and CEL rules
//   status [NAME]   each VeltrixConfig: revision, pods in sync, queue, dead letters, conditions
//   request ID      a request's record and outcome (a sidecar's admin API or the outcome bucket)
//   up [ARGS…]      the local stack behind scripts/local-up.sh (devenv/local-stack.ts)
// Flags come from one table (cliFlags), which also prints --help and docs/cli.md's table.
// Exit codes (exitCodes): 0 all good, 1 invalid / not Ready / not found, 2 usage error or
// unreadable file, 3 the API server, NATS or the admin API could not be read.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { parseAllDocuments } from "yaml";
import {
  flagBoolean,
  type FlagSpec,
  flagTableMarkdown as renderFlagTable,
  type FlagValues,
  flagUsage,
  readFlags,
} from "../lib/flags.ts";
import { natsConnectionOptions } from "../lib/nats-auth.ts";
import { natsClientSettings, natsFlags } from "../lib/nats-flags.ts";
import { renderRequest, requestFromAdmin, requestFromOutcomeBucket } from "./request.ts";
import { type ConfigStatus, fromApiServer, listConfigs, renderStatusTable, withNats } from "./status.ts";
import { loadSchema, type Problem, validateVeltrixConfig } from "./validate.ts";

export const cliFlags = [
  {
    flag: "output",
    short: "o",
    env: "VELTRIX_OUTPUT",
    default: "text",
    value: "FORMAT",
    doc: "text or json",
  },
  {
    flag: "kubeconfig",
    env: "KUBECONFIG",
    default: "",
    value: "FILE",
    doc: "status: the cluster; ~/.kube/config (or in-cluster) when empty",
  },
  {
    flag: "namespace",
    short: "n",
    env: "VELTRIX_NAMESPACE",
    default: "",
    value: "NS",
    doc: "status, request: the namespace; the kubeconfig context's (else default) when empty",
  },
  {
    flag: "all-namespaces",
    short: "A",
    env: "VELTRIX_ALL_NAMESPACES",
    default: "false",
    boolean: true,
    doc: "status: every namespace",
  },
  {
    flag: "config",
    env: "VELTRIX_CONFIG",
    default: "",
    value: "NAME",
    doc: "request: the VeltrixConfig whose outcome bucket to read (with --nats-url)",
  },
  {
    flag: "admin",
    env: "VELTRIX_ADMIN_URL",
    default: "",
    value: "URL",
    doc: "request: a sidecar's admin API (e.g. http://127.0.0.1:15090 through kubectl port-forward)",
  },
  ...natsFlags({
    default: "",
    doc: "status: live queue depth, pending and dead letters; request: the outcome bucket. Without it status shows the operator's last numbers",
  }),
  {
    flag: "crd",
    env: "VELTRIX_CRD",
    default: "",
    value: "FILE",
    doc: "validate: against this CRD file; the one shipped with this command when empty",
  },
  {
    flag: "old",
    env: "VELTRIX_OLD",
    default: "",
    value: "FILE",
    doc: "validate: as an update of this stored VeltrixConfig (kubectl get -o yaml), so the rules on changes (oldSelf) run too",
  },
  { flag: "help", short: "h", env: "VELTRIX_HELP", default: "", boolean: true, doc: "print this help" },
] as const satisfies readonly FlagSpec[];

type CliFlagValues = FlagValues<typeof cliFlags>;

/** The exit codes, one sentence each (--help and docs/cli.md print them). */
export const exitCodes = { ok: 0, notOk: 1, usage: 2, unavailable: 3 } as const;
export const exitCodeDocs: Record<keyof typeof exitCodes, string> = {
  ok: "done: every VeltrixConfig valid (validate) or Ready (status), the request found (request)",
  notOk: "a VeltrixConfig is invalid (validate) or not Ready (status), or what was named does not exist",
  usage: "usage error, or a file that cannot be read",
  unavailable: "the API server, NATS or the admin API could not be read",
};

/** docs/cli.md's flag table (cli/main.test.ts keeps the page equal to it). */
export function flagTableMarkdown(): string {
  return renderFlagTable(cliFlags);
}

/** docs/cli.md's exit-code table. */
export function exitCodeTableMarkdown(): string {
  const rows = Object.entries(exitCodes).map(
    ([k, code]) => `| ${code} | ${exitCodeDocs[k as keyof typeof exitCodes]} |`,
  );
  return ["| code | meaning |", "| --- | --- |", ...rows].join("\n");
}

export function helpText(): string {
  return [
    flagUsage("usage: veltrix <command> [flags] [args]", cliFlags),
    "",
    "commands:",
    "  validate FILE…     check VeltrixConfigs offline against the CRD's schema and CEL rules (- reads stdin);",
    "                     with --old STORED, as an update of it",
    "  status [NAME]      VeltrixConfigs: Ready, revision, pods in sync, queue depth, pending, dead letters,",
    "                     and every condition that is not True",
    "  request ID         a request's record and outcome: --admin URL, or --config NAME with --nats-url",
    "  up [ARGS…]         start the local stack (scripts/local-up.sh); ARGS go to devenv/local-stack.ts",
    "",
    "exit codes:",
    ...Object.entries(exitCodes).map(
      ([k, code]) => `  ${code}  ${exitCodeDocs[k as keyof typeof exitCodes]}`,
    ),
  ].join("\n");
}

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readFile: (path: string) => string;
}

/** Splits argv into flags (for the table, short forms made long) and positional arguments. */
export function split(argv: readonly string[]): { flags: string[]; args: string[] } {
  const flags: string[] = [];
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    const short = /^-([A-Za-z])(=.*)?$/.exec(a);
    if (short) {
      const spec = cliFlags.find((f) => "short" in f && f.short === short[1]);
      if (spec) a = `--${spec.flag}${short[2] ?? ""}`;
    }
    if (!a.startsWith("--") || a === "--") {
      args.push(a);
      continue;
    }
    const spec = cliFlags.find((f) => f.flag === a.slice(2).split("=")[0]);
    if (a.includes("=") || (spec && "boolean" in spec)) flags.push(a);
    else flags.push(`${a}=${argv[++i] ?? ""}`);
  }
  return { flags, args };
}

interface FileVerdict {
  file: string;
  name: string;
  namespace?: string;
  valid: boolean;
  problems: Problem[];
}

/** The one VeltrixConfig in `file` (--old), or why there is none. */
function readStored(file: string, io: Io): { object: unknown } | { error: string } {
  let text: string;
  try {
    text = io.readFile(file);
  } catch (err) {
    return { error: `--old ${file}: ${(err as Error).message}` };
  }
  const found = parseAllDocuments(text)
    .filter((d) => d.errors.length === 0)
    .map((d) => d.toJS() as { kind?: string } | null)
    .filter((o) => o?.kind === "VeltrixConfig");
  return found.length === 1
    ? { object: found[0] }
    : { error: `--old ${file}: want exactly one VeltrixConfig, found ${found.length}` };
}

function validateFiles(
  files: string[],
  f: Pick<CliFlagValues, "crd" | "old">,
  io: Io,
): { verdicts: FileVerdict[]; unreadable: string[] } {
  const schema = f.crd ? loadSchema(f.crd) : loadSchema();
  const verdicts: FileVerdict[] = [];
  const unreadable: string[] = [];
  const stored = f.old ? readStored(f.old, io) : undefined;
  if (stored && "error" in stored) return { verdicts, unreadable: [stored.error] };
  for (const file of files) {
    let text: string;
    try {
      text = io.readFile(file);
    } catch (err) {
      unreadable.push(`${file}: ${(err as Error).message}`);
      continue;
    }
    const docs = parseAllDocuments(text);
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        unreadable.push(`${file}: ${doc.errors[0]!.message}`);
        continue;
      }
      const object = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
      if (object === null || object.kind !== "VeltrixConfig") continue;
      const problems = validateVeltrixConfig(object, schema, stored?.object);
      verdicts.push({
        file,
        name: object.metadata?.name ?? "",
        ...(object.metadata?.namespace !== undefined && { namespace: object.metadata.namespace }),
        valid: problems.length === 0,
        problems,
      });
    }
  }
  return { verdicts, unreadable };
}

/** Runs the command; returns its exit code. */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  // `up`'s arguments are devenv/local-stack.ts's (--check, --dir), not this table's.
  if (argv[0] === "up") return up(argv.slice(1), io);
  const { flags, args } = split(argv);
  let f: CliFlagValues;
  try {
    f = readFlags(cliFlags, flags, env);
  } catch (err) {
    io.stderr(`veltrix: ${(err as Error).message}\n\n${helpText()}\n`);
    return exitCodes.usage;
  }
  const [command, ...rest] = args;
  if (f.help === "true" || command === undefined || command === "help") {
    io.stdout(`${helpText()}\n`);
    return command === undefined && f.help !== "true" ? exitCodes.usage : exitCodes.ok;
  }
  if (f.output !== "text" && f.output !== "json") {
    io.stderr(`veltrix: --output: want text or json, got '${f.output}'\n`);
    return exitCodes.usage;
  }
  switch (command) {
    case "validate": {
      if (rest.length === 0) {
        io.stderr("veltrix validate: name at least one file (- for stdin)\n");
        return exitCodes.usage;
      }
      const { verdicts, unreadable } = validateFiles(rest, f, io);
      if (f.output === "json")
        io.stdout(`${JSON.stringify({ results: verdicts, errors: unreadable }, null, 2)}\n`);
      else {
        for (const v of verdicts) {
          const what = `${v.file}: VeltrixConfig ${v.namespace ? `${v.namespace}/` : ""}${v.name}`;
          if (v.valid) io.stdout(`${what}: valid\n`);
          else
            io.stdout(`${what}: invalid\n${v.problems.map((p) => `  ${p.field}: ${p.message}\n`).join("")}`);
        }
        for (const u of unreadable) io.stderr(`veltrix validate: ${u}\n`);
        if (verdicts.length === 0 && unreadable.length === 0)
          io.stderr("veltrix validate: no VeltrixConfig found\n");
      }
      if (unreadable.length > 0 || verdicts.length === 0) return exitCodes.usage;
      return verdicts.every((v) => v.valid) ? exitCodes.ok : exitCodes.notOk;
    }
    case "status":
      return status(f, rest, io);
    case "request":
      return request(f, rest, io);
    case "up":
      return up(rest, io);
    default:
      io.stderr(`veltrix: unknown command '${command}'\n\n${helpText()}\n`);
      return exitCodes.usage;
  }
}

/**
 * Runs a program on this terminal (its stdout dropped with `quiet`); resolves to its exit
 * code. SIGTERM is passed on (Ctrl-C reaches it from the terminal by itself).
 */
function runInherited(command: string, args: string[], quiet = false): Promise<number> {
  const child = spawn(command, args, { stdio: ["inherit", quiet ? "ignore" : "inherit", "inherit"] });
  const term = (): void => void child.kill("SIGTERM");
  process.on("SIGTERM", term);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      process.off("SIGTERM", term);
      resolve(code ?? exitCodes.usage);
    }),
  );
}

/**
 * `up`: the real binaries first (scripts/provision-test-env.sh: cached ones in a moment, a
 * first run builds them from Go modules and says which one it is building), then the stack,
 * which shows each step and ends with a one-screen summary.
 */
async function up(args: string[], io: Io): Promise<number> {
  const stack = fileURLToPath(new URL("../devenv/local-stack.ts", import.meta.url));
  if (!existsSync(stack)) {
    io.stderr("veltrix up: runs from a checkout of the repository (devenv/ is not in this install)\n");
    return exitCodes.usage;
  }
  const root = fileURLToPath(new URL("..", import.meta.url));
  io.stderr("veltrix up: provisioning etcd, kube-apiserver, kube-controller-manager and nats-server\n");
  const provisioned = await runInherited("bash", [`${root}scripts/provision-test-env.sh`], true);
  if (provisioned !== 0) {
    io.stderr("veltrix up: provisioning failed (see above)\n");
    return provisioned;
  }
  return runInherited(process.execPath, [stack, ...args]);
}

function kubeConfig(f: CliFlagValues): KubeConfig {
  const kc = new KubeConfig();
  if (f.kubeconfig) kc.loadFromFile(f.kubeconfig);
  else kc.loadFromDefault();
  return kc;
}

function namespaceOf(f: CliFlagValues, kc: KubeConfig | undefined): string {
  if (f.namespace) return f.namespace;
  const context = kc?.getContextObject(kc.getCurrentContext());
  return context?.namespace || "default";
}

/** A NATS connection from the flags (no reconnects: one look, then close), or undefined without --nats-url. */
async function natsFromFlags(f: CliFlagValues): Promise<NatsConnection | undefined> {
  if (!f["nats-url"]) return undefined;
  return connect({
    servers: f["nats-url"],
    ...natsConnectionOptions(natsClientSettings(f)),
    name: "veltrix-cli",
    reconnect: false,
    timeout: 5_000,
  });
}

function message(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (typeof e.body === "string") {
    try {
      return (JSON.parse(e.body) as { message?: string }).message ?? e.body;
    } catch {
      return e.body;
    }
  }
  return e.message ?? String(err);
}

async function status(f: CliFlagValues, rest: string[], io: Io): Promise<number> {
  if (rest.length > 1) {
    io.stderr("veltrix status: at most one NAME\n");
    return exitCodes.usage;
  }
  const name = rest[0];
  let all: boolean;
  try {
    all = flagBoolean("all-namespaces", f["all-namespaces"]);
  } catch (err) {
    io.stderr(`veltrix status: ${message(err)}\n`);
    return exitCodes.usage;
  }
  if (all && name !== undefined) {
    io.stderr("veltrix status: NAME needs a namespace, not --all-namespaces\n");
    return exitCodes.usage;
  }
  let configs: ConfigStatus[];
  try {
    const kc = kubeConfig(f);
    const items = await listConfigs(kc, all ? undefined : namespaceOf(f, kc), name);
    configs = items.map(fromApiServer);
  } catch (err) {
    if ((err as { code?: number }).code === 404) {
      io.stderr(`veltrix status: ${message(err)}\n`);
      return exitCodes.notOk;
    }
    io.stderr(`veltrix status: cannot read VeltrixConfigs from the API server: ${message(err)}\n`);
    return exitCodes.unavailable;
  }
  let natsError: string | undefined;
  let nc: NatsConnection | undefined;
  try {
    nc = await natsFromFlags(f);
    if (nc) configs = await Promise.all(configs.map((c) => withNats(nc!, c)));
  } catch (err) {
    natsError = `cannot read NATS at ${f["nats-url"]}: ${message(err)}`;
  } finally {
    await nc?.close();
  }
  if (f.output === "json")
    io.stdout(`${JSON.stringify({ configs, ...(natsError && { errors: [natsError] }) }, null, 2)}\n`);
  else io.stdout(renderStatusTable(configs, all));
  if (natsError) {
    io.stderr(`veltrix status: ${natsError}\n`);
    return exitCodes.unavailable;
  }
  return configs.every((c) => c.ready) ? exitCodes.ok : exitCodes.notOk;
}

async function request(f: CliFlagValues, rest: string[], io: Io): Promise<number> {
  const [id, ...extra] = rest;
  if (id === undefined || extra.length > 0) {
    io.stderr("veltrix request: name one request ID\n");
    return exitCodes.usage;
  }
  if (!f.admin && !(f.config && f["nats-url"])) {
    io.stderr("veltrix request: give --admin URL, or --config NAME with --nats-url\n");
    return exitCodes.usage;
  }
  let found;
  const where: string[] = [];
  try {
    if (f.admin) {
      where.push(`the admin API at ${f.admin}`);
      found = await requestFromAdmin(f.admin, id);
    }
    if (!found && f.config && f["nats-url"]) {
      const ref = { namespace: f.namespace || "default", name: f.config };
      where.push(`the outcome bucket of ${ref.namespace}/${ref.name}`);
      const nc = await natsFromFlags(f);
      try {
        found = await requestFromOutcomeBucket(nc!, ref, id);
      } finally {
        await nc?.close();
      }
    }
  } catch (err) {
    io.stderr(`veltrix request: ${message(err)}\n`);
    return exitCodes.unavailable;
  }
  if (!found) {
    if (f.output === "json") io.stdout(`${JSON.stringify({ id, found: false }, null, 2)}\n`);
    io.stderr(`veltrix request: ${id} not found in ${where.join(" or ")}\n`);
    return exitCodes.notOk;
  }
  io.stdout(f.output === "json" ? `${JSON.stringify(found, null, 2)}\n` : renderRequest(found));
  return exitCodes.ok;
}

/** The command as a program: argv, environment and exit code of this process. */
export function main(): void {
  run(process.argv.slice(2), process.env, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    readFile: (path) => readFileSync(path === "-" ? 0 : path, "utf8"),
  }).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = exitCodes.usage;
    },
  );
}

// Run directly, or through npm's bin link (argv[1] is then the link, import.meta.url the file).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) main();
