// The reconcile loop's error semantics: an error means retry with backoff, unless it is
// terminal. Codes and sentences are api/errors.ts's.
import { VeltrixError } from "../../api/errors.ts";

/** A reconcile error that retrying cannot fix: logged, not requeued. */
export class TerminalError extends VeltrixError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super("VX_ERR_TERMINAL", detail, options);
    this.name = "TerminalError";
  }
}
