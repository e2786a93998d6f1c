// The minted NATS user of each VeltrixConfig as a Secret in the config's namespace
// (natsCredentialsSecretName): created on first reconcile, renewed when renewal.ts says
// so, deleted with the config (and the user revoked, revocation.ts). Reads the Secret by
// name on every reconcile, so the operator needs get, create, patch and delete on Secrets
// but never lists or watches them.
import type { V1Secret } from "@kubernetes/client-node";
import { type CoreV1Api, PatchStrategy, setHeaderOptions } from "../runtime/kube-api.ts";
import {
  apiVersion,
  type ConfigRef,
  kind,
  labels,
  managedByValue,
  natsCredentialsAnnotations,
  natsCredentialsKey,
  natsCredentialsSecretName,
} from "../../api/contract.ts";
import { type AccountSigner, mintSidecarUser } from "./mint.ts";
import { credentialsVerdict, renewalTime } from "./renewal.ts";

export interface CredentialsOutcome {
  /** "kept", or why a new user was minted. */
  action: "kept" | "issued" | "renewed";
  reason?: string;
  /** Public key of the user the Secret holds now. */
  user?: string;
  /** When the next renewal is due. */
  renewAt: Date;
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

function codeOf(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

export class SidecarCredentials {
  private readonly core: CoreV1Api;
  private readonly signer: AccountSigner;
  private readonly validityMs: number;

  constructor(o: { core: CoreV1Api; signer: AccountSigner; validityMs: number }) {
    this.core = o.core;
    this.signer = o.signer;
    this.validityMs = o.validityMs;
  }

  private async read(ref: ConfigRef): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({
        name: natsCredentialsSecretName(ref.name),
        namespace: ref.namespace,
      });
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** The Secret of `ref` holds a good user afterwards; owned by the VeltrixConfig `ownerUid`. */
  async ensure(ref: ConfigRef, ownerUid: string, now: Date): Promise<CredentialsOutcome> {
    const have = await this.read(ref);
    const raw = have?.data?.[natsCredentialsKey];
    const creds = raw === undefined ? undefined : Buffer.from(raw, "base64").toString("utf8");
    const verdict = credentialsVerdict(creds, ref, this.signer, now, this.validityMs);
    if (!verdict.renewReason && verdict.renewAt) {
      return {
        action: "kept",
        renewAt: verdict.renewAt,
        ...(have?.metadata?.annotations?.[natsCredentialsAnnotations.user] !== undefined && {
          user: have.metadata.annotations[natsCredentialsAnnotations.user],
        }),
      };
    }
    const minted = await mintSidecarUser(ref, this.signer, now, this.validityMs);
    const annotations = {
      [natsCredentialsAnnotations.user]: minted.user,
      [natsCredentialsAnnotations.issuedAt]: minted.issuedAt.toISOString(),
      [natsCredentialsAnnotations.expiresAt]: minted.expiresAt.toISOString(),
    };
    const data = { [natsCredentialsKey]: b64(minted.creds) };
    const name = natsCredentialsSecretName(ref.name);
    if (have) {
      // resourceVersion: a compare-and-swap, so two reconciles never mint over each other.
      await this.core.patchNamespacedSecret(
        {
          name,
          namespace: ref.namespace,
          body: { metadata: { annotations, resourceVersion: have.metadata?.resourceVersion }, data },
        },
        mergePatch,
      );
    } else {
      await this.core.createNamespacedSecret({
        namespace: ref.namespace,
        body: {
          metadata: {
            name,
            namespace: ref.namespace,
            labels: { [labels.managedBy]: managedByValue, [labels.config]: ref.name },
            annotations,
            ownerReferences: [
              {
                apiVersion,
                kind,
                name: ref.name,
                uid: ownerUid,
                controller: true,
                blockOwnerDeletion: false,
              },
            ],
          },
          type: "Opaque",
          data,
        },
      });
    }
    const renewAt = renewalTime(minted.issuedAt, minted.expiresAt);
    return {
      action: have ? "renewed" : "issued",
      ...(verdict.renewReason && { reason: verdict.renewReason }),
      user: minted.user,
      renewAt,
    };
  }

  /**
   * Deletes the Secret of `ref`, after `revoke` (when given) took the user it holds; the
   * user's public key, or undefined when there was no Secret. A failed revoke keeps the
   * Secret, so the next try still knows the user.
   */
  async remove(ref: ConfigRef, revoke?: (user: string) => Promise<void>): Promise<string | undefined> {
    const have = await this.read(ref);
    if (!have) return undefined;
    const user = have.metadata?.annotations?.[natsCredentialsAnnotations.user] ?? "";
    if (user && revoke) await revoke(user);
    try {
      await this.core.deleteNamespacedSecret({
        name: natsCredentialsSecretName(ref.name),
        namespace: ref.namespace,
      });
    } catch (err) {
      if (codeOf(err) !== 404) throw err;
    }
    return user;
  }
}
