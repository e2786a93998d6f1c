// cert-manager mode: the certificate is a mounted Secret (tls.crt, tls.key) that
// cert-manager renews and the kubelet refreshes in place; cert-manager's CA
// injector owns the caBundle. Poll the files and hand a changed pair to the server.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ServingCertificate } from "./issue.ts";
import { describeCertificate } from "./issue.ts";

export interface MountedOptions {
  /** Directory with tls.crt and tls.key (the chart's VELTRIX_WEBHOOK_CERT_DIR). */
  dir: string;
  onCertificate: (certificate: ServingCertificate) => void;
  pollIntervalMs?: number;
  log?: (message: string, fields: Record<string, unknown>) => void;
}

export class MountedCertificates {
  private readonly options: MountedOptions;
  private timer: NodeJS.Timeout | undefined;
  private served: string | undefined;

  constructor(options: MountedOptions) {
    this.options = options;
  }

  async start(): Promise<ServingCertificate> {
    const certificate = await this.read();
    this.served = certificate.certPem + certificate.keyPem;
    this.timer = setInterval(() => {
      this.read()
        .then((c) => {
          if (c.certPem + c.keyPem === this.served) return;
          this.options.onCertificate(c);
          this.served = c.certPem + c.keyPem;
        })
        // A half-updated mount (cert without its key) reads again on the next tick.
        .catch((err: unknown) =>
          this.options.log?.("mounted certificate unreadable", { error: String(err) }),
        );
    }, this.options.pollIntervalMs ?? 10_000);
    this.timer.unref();
    return certificate;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * The pair as mounted, refused while the key is not the certificate's: the two files
   * are read one after the other, so a read can straddle a renewal (old certificate, new
   * key), and serving that pair would fail every TLS handshake.
   */
  private async read(): Promise<ServingCertificate> {
    const [certPem, keyPem] = await Promise.all([
      readFile(join(this.options.dir, "tls.crt"), "utf8"),
      readFile(join(this.options.dir, "tls.key"), "utf8"),
    ]);
    if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem)))
      throw new Error(`tls.key in ${this.options.dir} is not the key of tls.crt`);
    return { certPem, keyPem, notAfter: describeCertificate(certPem).notAfter };
  }
}
