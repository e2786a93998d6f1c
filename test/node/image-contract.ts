// What images/Dockerfile promises about each image (the release path, built with Docker) and
// what an OCI layout built here holds, read the same way, so a test can hold them equal.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface DockerfileTarget {
  /** Entrypoint of the distroless nodejs base the runtime stage starts from. */
  entrypoint: string[];
  cmd: string[];
  user: string;
  workingDir: string;
  env: Record<string, string>;
  exposedPorts: number[];
  /** Where `COPY --from=build /bundle` puts the bundle. */
  appDir: string;
}

/** Reads the runtime stage and one target stage of images/Dockerfile. */
export function dockerfileTarget(dockerfile: string, target: string): DockerfileTarget {
  const text = readFileSync(dockerfile, "utf8");
  const stages = new Map<string, string[]>();
  let current: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from?.[1]) {
      current = [];
      stages.set(from[1], current);
      continue;
    }
    if (line && !line.startsWith("#")) current.push(line);
  }
  const runtime = stages.get("runtime") ?? [];
  const own = stages.get(target);
  if (!own) throw new Error(`images/Dockerfile has no stage ${target}`);
  const value = (lines: string[], instruction: string): string | undefined =>
    lines
      .filter((l) => l.startsWith(`${instruction} `))
      .map((l) => l.slice(instruction.length + 1).trim())
      .pop();
  const env: Record<string, string> = {};
  for (const l of [...runtime, ...own].filter((x) => x.startsWith("ENV "))) {
    const [key, ...rest] = l.slice(4).split("=");
    if (key) env[key.trim()] = rest.join("=").trim();
  }
  const copy = runtime.find((l) => /^COPY --from=build \/bundle /.test(l));
  return {
    // The distroless nodejs images run node as their entrypoint (gcr.io/distroless/nodejs24-debian12).
    entrypoint: ["/nodejs/bin/node"],
    cmd: JSON.parse(value(own, "CMD") ?? "[]") as string[],
    user: value([...runtime, ...own], "USER") ?? "",
    workingDir: value(runtime, "WORKDIR") ?? "",
    env,
    exposedPorts: (value(own, "EXPOSE") ?? "").split(/\s+/).filter(Boolean).map(Number),
    appDir: copy?.split(/\s+/).pop() ?? "",
  };
}

export interface OciImage {
  config: {
    Entrypoint?: string[];
    Cmd?: string[];
    User?: string;
    WorkingDir?: string;
    Env?: string[];
    ExposedPorts?: Record<string, object>;
  };
  /** Paths in each layer, in order (as `tar -t` lists them, without a leading "./"). */
  layers: string[][];
}

function blob(layout: string, digest: string): string {
  return join(layout, "blobs", ...digest.split(":"));
}

/** One file's content from a layer of an image. */
export async function readLayerFile(layout: string, layerIndex: number, path: string): Promise<string> {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  const manifest = JSON.parse(readFileSync(blob(layout, index.manifests[0]?.digest ?? ""), "utf8")) as {
    layers: { digest: string }[];
  };
  const layer = manifest.layers[layerIndex]?.digest ?? "";
  const { stdout } = await run("tar", ["-xOzf", blob(layout, layer), path], { maxBuffer: 16 << 20 }).catch(
    () => run("tar", ["-xOzf", blob(layout, layer), `./${path}`], { maxBuffer: 16 << 20 }),
  );
  return stdout;
}

export async function readOciImage(layout: string): Promise<OciImage> {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  const manifestDigest = index.manifests[0]?.digest ?? "";
  const manifest = JSON.parse(readFileSync(blob(layout, manifestDigest), "utf8")) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  const config = JSON.parse(readFileSync(blob(layout, manifest.config.digest), "utf8")) as {
    config: OciImage["config"];
  };
  const layers: string[][] = [];
  for (const layer of manifest.layers) {
    const { stdout } = await run("tar", ["-tzf", blob(layout, layer.digest)], { maxBuffer: 256 << 20 });
    layers.push(
      stdout
        .split("\n")
        .filter(Boolean)
        .map((p) => p.replace(/^\.?\//, "").replace(/\/$/, ""))
        .filter(Boolean),
    );
  }
  return { config: config.config, layers };
}
