// The sidecar's structured log: JSON lines from lib/log.ts, with the fields the operator's
// lines carry (time, level, msg, component) plus the pod, the worker and the area of the
// sidecar that wrote the line. One logger per process, set up once by main.ts; modules
// take an area's logger at load time and it writes through whatever main.ts configured.
import { createLogger, type Fields, type Level, type Logger } from "../lib/log.ts";

let current: Logger = createLogger({ fields: { component: "sidecar" } });

export function configureLog(o: { level: Level; fields: Fields }): void {
  current = createLogger({ level: o.level, fields: { component: "sidecar", ...o.fields } });
}

/** The logger of one area (queue, broker, config, store, proxy, admin, workers). */
export function logger(area: string, fields: Fields = {}): Logger {
  const own = { area, ...fields };
  return {
    debug: (msg, f) => current.debug(msg, { ...own, ...f }),
    info: (msg, f) => current.info(msg, { ...own, ...f }),
    warn: (msg, f) => current.warn(msg, { ...own, ...f }),
    error: (msg, f) => current.error(msg, { ...own, ...f }),
    child: (f) => logger(area, { ...fields, ...f }),
  };
}
