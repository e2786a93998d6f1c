#!/usr/bin/env node
// `veltrix`: the command for the people who run Veltrix. Subcommands:
//   validate FILE…  VeltrixConfigs checked offline against the CRD's schema and CEL rules
//   up [ARGS…]      the local stack behind scripts/local-up.sh (devenv/local-stack.ts)
// Flags come from one table (lib/flags.ts), which also prints --help.
// Exit codes: 0 all good, 1 a VeltrixConfig is invalid, 2 usage error or unreadable file.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseAllDocuments } from "yaml";
import { type FlagSpec, flagUsage, readFlags } from "../lib/flags.ts";
import { loadSchema, type Problem, validateVeltrixConfig } from "./validate.ts";

export const cliFlags = [
  { flag: "output", env: "VELTRIX_OUTPUT", default: "text", value: "FORMAT", doc: "text or json" },
  {
    flag: "crd",
    env: "VELTRIX_CRD",
    default: "",
    value: "FILE",
    doc: "validate against this CRD file; the one shipped with this command when empty",
  },
  { flag: "help", env: "VELTRIX_HELP", default: "", boolean: true, doc: "print this help" },
] as const satisfies readonly FlagSpec[];

export const exitCodes = { ok: 0, invalid: 1, usage: 2 } as const;

export function helpText(): string {
  return [
    flagUsage("usage: veltrix <command> [flags] [args]", cliFlags),
    "",
    "commands:",
    "  validate FILE…  check VeltrixConfigs offline against the CRD's schema and CEL rules (- reads stdin)",
    "  up [ARGS…]      start the local stack (scripts/local-up.sh); ARGS go to devenv/local-stack.ts",
    "",
    "exit codes: 0 valid / done, 1 a VeltrixConfig is invalid, 2 usage error or unreadable file",
  ].join("\n");
}

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readFile: (path: string) => string;
}

/** Splits argv into flags (for the table) and positional arguments. */
function split(argv: readonly string[]): { flags: string[]; args: string[] } {
  const flags: string[] = [];
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--") || a === "--") {
      args.push(a);
      continue;
    }
    const spec = cliFlags.find((f) => f.flag === a.slice(2));
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

function validateFiles(
  files: string[],
  crd: string,
  io: Io,
): { verdicts: FileVerdict[]; unreadable: string[] } {
  const schema = crd ? loadSchema(crd) : loadSchema();
  const verdicts: FileVerdict[] = [];
  const unreadable: string[] = [];
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
      const problems = validateVeltrixConfig(object, schema);
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
  const { flags, args } = split(argv);
  let f;
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
      const { verdicts, unreadable } = validateFiles(rest, f.crd, io);
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
      return verdicts.every((v) => v.valid) ? exitCodes.ok : exitCodes.invalid;
    }
    case "up": {
      const stack = fileURLToPath(new URL("../devenv/local-stack.ts", import.meta.url));
      const child = spawn(process.execPath, [stack, ...rest], { stdio: "inherit" });
      return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? exitCodes.usage)));
    }
    default:
      io.stderr(`veltrix: unknown command '${command}'\n\n${helpText()}\n`);
      return exitCodes.usage;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
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
