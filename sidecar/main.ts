// Entry point: node sidecar/main.ts --config veltrixconfig.yaml --app-port 8080
import { parseOptions } from "./options.ts";
import { createSidecar, startListeners, startSweeper } from "./sidecar.ts";

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const sc = await createSidecar(opts);
  startSweeper(sc);
  const handle = await startListeners(sc, true);
  console.log(
    `veltrix sidecar: proxy :${handle.proxyPort} admin 127.0.0.1:${handle.adminPort} app ${opts.appHost}:${opts.appPort}`,
  );
  const stop = (signal: string): void => {
    void handle.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error("veltrix sidecar: shutdown failed", err);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  console.error("veltrix sidecar: fatal:", err instanceof Error ? err.message : err);
  process.exit(1);
});
