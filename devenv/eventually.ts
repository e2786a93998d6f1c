// Waiting for a condition, never for a duration: what the tests, the node environment and the
// local stack all poll with (docs/testing.md, "Rules"). The deadline only turns a hang into a
// failure that names what was awaited and the last error seen.
import { setTimeout as sleep } from "node:timers/promises";

/** Polls `check` every `intervalMs` until it returns a value other than undefined. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  const last =
    lastError === undefined
      ? ""
      : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`, { cause: lastError });
}
