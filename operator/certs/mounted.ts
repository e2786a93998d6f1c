// cert-manager mode: the certificate is a mounted Secret (tls.crt, tls.key) that
// cert-manager renews and the kubelet refreshes in place; cert-manager's CA
// injector owns the caBundle. Poll the files and hand a changed pair to the server.
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

  private async read(): Promise<ServingCertificate> {
    const [certPem, keyPem] = await Promise.all([
      readFile(join(this.options.dir, "tls.crt"), "utf8"),
      readFile(join(this.options.dir, "tls.key"), "utf8"),
    ]);
    return { certPem, keyPem, notAfter: describeCertificate(certPem).notAfter };
  }
}
