// The sidecar image's size as a registry stores and a node pulls it: the compressed layers
// of its OCI manifest, built the way the test node's images are (devenv/node/images.ts: the
// runtime base of Debian files and Node, plus the bundle at /app), against the runtime
// base alone.
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildImage } from "../../devenv/node/image-build.ts";
import { buildRuntimeBase, imageReference, imageSpecs } from "../../devenv/node/images.ts";

/** Compressed size in bytes of every layer of the layout's image tagged `image`. */
export function layerBytes(layout: string): number[] {
  const blob = (digest: string): string => join(layout, "blobs", digest.replace(":", "/"));
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === "image");
  if (!entry) throw new Error(`${layout} has no image tagged "image"`);
  const manifest = JSON.parse(readFileSync(blob(entry.digest), "utf8")) as { layers: { size: number }[] };
  return manifest.layers.map((l) => l.size);
}

export interface ImageSize {
  /** Compressed layers of the runtime base alone (Debian files, Node). */
  baseBytes: number;
  /** Compressed layers of the sidecar image (the base's and the bundle's). */
  imageBytes: number;
  /** The bundle's layer alone. */
  bundleBytes: number;
  buildSeconds: number;
}

/** Builds the sidecar image from `bundle` (dist/bundle's tree) in `dir` and measures it. */
export async function sidecarImageSize(bundle: string, dir: string): Promise<ImageSize> {
  const t0 = performance.now();
  const base = await buildRuntimeBase();
  const layer = join(dir, "bundle-layer");
  rmSync(layer, { recursive: true, force: true });
  mkdirSync(layer, { recursive: true });
  cpSync(bundle, join(layer, "app"), { recursive: true });
  const built = await buildImage(
    {
      reference: imageReference("sidecar"),
      layers: [layer],
      config: imageSpecs.sidecar,
      from: base.runtimeLayout,
      archive: false,
    },
    join(dir, "image"),
  );
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const baseLayers = layerBytes(base.runtimeLayout);
  const layers = layerBytes(built.layout);
  return {
    baseBytes: sum(baseLayers),
    imageBytes: sum(layers),
    bundleBytes: sum(layers.slice(baseLayers.length)),
    buildSeconds: (performance.now() - t0) / 1000,
  };
}
