// Structured JSON logs, one object a line: {time, level, msg, ...fields}. A child
// logger carries fields (reconcileId, key, controller) into every line it writes.

export type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A --log-level value, or an error naming the flag and the choices. */
export function parseLevel(flag: string, text: string): Level {
  if (Object.hasOwn(order, text)) return text as Level;
  throw new Error(`--${flag}: want debug, info, warn or error, got '${text}'`);
}

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export type Sink = (line: string) => void;

function errorFields(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const e = value as Error & { code?: unknown };
  return {
    message: e.message,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.cause !== undefined ? { cause: errorFields(e.cause) } : {}),
  };
}

export function createLogger(opts: { level?: Level; sink?: Sink; fields?: Fields } = {}): Logger {
  const min = order[opts.level ?? "info"];
  const sink: Sink = opts.sink ?? ((line) => process.stdout.write(line + "\n"));
  const base = opts.fields ?? {};
  const write = (level: Level, msg: string, fields?: Fields): void => {
    if (order[level] < min) return;
    const out: Fields = { time: new Date().toISOString(), level, msg, ...base };
    for (const [k, v] of Object.entries(fields ?? {})) out[k] = errorFields(v);
    sink(JSON.stringify(out));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}
