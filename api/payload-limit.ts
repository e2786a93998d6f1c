// Whether a config's largest body fits in one NATS message (the sidecar's /readyz warning,
// the operator's BodyFitsBroker condition): a queued request travels as
// its body plus one header (Vx-Job: id, path, the request's headers), and NATS refuses a
// message over the server's max_payload (1 MB unless configured). Pure.

/** Room kept for a queued request's headers: the default --max-header-bytes. */
export const headerRoomBytes = 16 * 1024;

/** The warning /readyz and the log give when `maxBodyBytes` cannot always be carried, else undefined. */
export function payloadLimitWarning(
  maxBodyBytes: number,
  maxPayload: number | undefined,
): string | undefined {
  if (maxPayload === undefined || maxPayload <= 0 || maxBodyBytes + headerRoomBytes <= maxPayload)
    return undefined;
  return (
    `queue.maxBodyBytes (${maxBodyBytes}) with room for headers (${headerRoomBytes}) exceeds NATS's max_payload ` +
    `(${maxPayload}): larger sync and async bodies get 413 VX_ERR_BODY_OVER_BROKER_LIMIT; lower maxBodyBytes ` +
    `or raise max_payload`
  );
}
