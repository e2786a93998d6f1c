// Errors with stable codes. Reconcile errors are retried with backoff unless terminal.

export const errorCodes = {
  natsUnavailable: "VX_ERR_NATS_UNAVAILABLE",
  /** No connection: NATS refused the operator's credentials, or they could not be read. */
  natsAuth: "VX_ERR_NATS_AUTH",
  /** No connection: the TLS handshake or the server's certificate failed. */
  natsTls: "VX_ERR_NATS_TLS",
  streamConflict: "VX_ERR_STREAM_CONFLICT",
  terminal: "VX_ERR_TERMINAL",
  notLeader: "VX_ERR_NOT_LEADER",
} as const;
export type ErrorCode = (typeof errorCodes)[keyof typeof errorCodes];

export class VeltrixError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "VeltrixError";
  }
}

/** A reconcile error that retrying cannot fix: logged, not requeued. */
export class TerminalError extends VeltrixError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(errorCodes.terminal, message, options);
    this.name = "TerminalError";
  }
}
