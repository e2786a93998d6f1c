// The text of a NATS .creds file: a user JWT block, then the user's NKey seed block.
import type { nkeys } from "@nats-io/transport-node";

/** Without an operator configured, nats-server checks the NKey signature, not the JWT. */
export const unusedJwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.unused";

export function credsText(user: ReturnType<typeof nkeys.createUser>, jwt = unusedJwt): string {
  return [
    "-----BEGIN NATS USER JWT-----",
    jwt,
    "------END NATS USER JWT------",
    "",
    "-----BEGIN USER NKEY SEED-----",
    new TextDecoder().decode(user.getSeed()),
    "------END USER NKEY SEED------",
    "",
  ].join("\n");
}
