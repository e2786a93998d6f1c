// Command-line flags from one table per program: each flag has an environment variable,
// a default and a sentence, and the same table parses argv, prints --help and renders
// the docs' flag table (a unit test keeps each program's docs equal to its table).
// A flag wins over its variable, the variable over the default.
import { parseArgs } from "node:util";

export interface FlagSpec {
  /** Long name, without the dashes. */
  readonly flag: string;
  readonly env: string;
  /** "" when empty. */
  readonly default: string;
  readonly doc: string;
  /** A switch: `--flag` alone means true; the variable takes true/false (or 1/0). */
  readonly boolean?: boolean;
  /** A placeholder for the value in --help and the docs (FILE, N, URL). */
  readonly value?: string;
  /** A one-letter form (`-n`) for commands people type; the command maps it to the long flag. */
  readonly short?: string;
  /** Older spellings, still accepted for one release with a deprecation warning. */
  readonly deprecated?: readonly string[];
}

export type FlagValues<F extends readonly FlagSpec[]> = Record<F[number]["flag"], string>;

/** Parses argv against `specs`; `warn` hears about deprecated spellings. Throws on unknown flags. */
export function readFlags<const F extends readonly FlagSpec[]>(
  specs: F,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void = (m) => process.emitWarning(m, "DeprecationWarning"),
): FlagValues<F> {
  const spellings = new Map<string, FlagSpec>();
  for (const s of specs) {
    spellings.set(s.flag, s);
    for (const old of s.deprecated ?? []) spellings.set(old, s);
  }
  // A bare switch (`--nats-tls`) becomes `--nats-tls=true`, so every flag parses as a string.
  const args = argv.map((a) => {
    const spec = a.startsWith("--") && !a.includes("=") ? spellings.get(a.slice(2)) : undefined;
    return spec?.boolean ? `${a}=true` : a;
  });
  const { values } = parseArgs({
    args,
    options: Object.fromEntries([...spellings.keys()].map((name) => [name, { type: "string" as const }])),
    strict: true,
  });
  const out: Record<string, string> = {};
  for (const s of specs) {
    let given = values[s.flag];
    for (const old of s.deprecated ?? []) {
      const v = values[old];
      if (typeof v !== "string") continue;
      warn(`--${old} is deprecated and will be removed in the next release; use --${s.flag}`);
      given ??= v;
    }
    out[s.flag] = typeof given === "string" ? given : (env[s.env] ?? s.default);
  }
  return out as FlagValues<F>;
}

/** A switch's value: true/1 or false/0/empty. */
export function flagBoolean(name: string, text: string): boolean {
  if (text === "true" || text === "1") return true;
  if (text === "false" || text === "0" || text === "") return false;
  throw new Error(`--${name}: want true or false, got '${text}'`);
}

export function flagInteger(name: string, text: string): number {
  const n = Number(text);
  if (text === "" || !Number.isInteger(n) || n < 0)
    throw new Error(`--${name}: want a non-negative integer, got '${text}'`);
  return n;
}

function flagCell(s: FlagSpec): string {
  const short = s.short ? `\`-${s.short}\`, ` : "";
  return `${short}\`--${s.flag}${s.value ? ` ${s.value}` : ""}\``;
}

/** The docs' Markdown table: flag, env, default, meaning. */
export function flagTableMarkdown(specs: readonly FlagSpec[]): string {
  const rows = specs.map(
    (s) => `| ${flagCell(s)} | \`${s.env}\` | ${s.default ? `\`${s.default}\`` : "(empty)"} | ${s.doc} |`,
  );
  return ["| flag | env | default | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** --help text: the usage line, then one line a flag. */
export function flagUsage(usageLine: string, specs: readonly FlagSpec[]): string {
  // Long flags line up after the short ones ("  -n, --namespace", "      --kubeconfig").
  const pad = specs.some((s) => s.short) ? "    " : "";
  const left = specs.map(
    (s) => `  ${s.short ? `-${s.short}, ` : pad}--${s.flag}${s.value ? ` ${s.value}` : ""}`,
  );
  const width = Math.max(...left.map((l) => l.length)) + 2;
  const lines = specs.map((s, i) => {
    const def = s.default ? ` (default ${s.default})` : "";
    return `${(left[i] ?? "").padEnd(width)}${s.doc}${def}  [${s.env}]`;
  });
  return [usageLine, ...lines].join("\n");
}
