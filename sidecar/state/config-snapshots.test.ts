// Config snapshots on a real SQLite file through keyv and the node:sqlite store.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigSnapshots } from "./config-snapshots.ts";

const dirs: string[] = [];
function file(): string {
  const dir = mkdtempSync(join(tmpdir(), "vx-snapshots-"));
  dirs.push(dir);
  return join(dir, "config.db");
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const snap = (revision: string) => ({
  revision,
  spec: { name: "web", config: { a: revision } },
  appliedAt: 7,
});

describe("ConfigSnapshots (keyv on node:sqlite)", () => {
  it("keeps every revision and the latest, across a reopen of the file", async () => {
    const path = file();
    const a = new ConfigSnapshots(path);
    expect(await a.latest()).toBeUndefined();
    await a.save(snap("r1"));
    await a.save(snap("r2"));
    await a.close();

    const b = new ConfigSnapshots(path);
    expect(await b.latest()).toEqual(snap("r2"));
    expect(await b.get("r1")).toEqual(snap("r1"));
    expect(await b.get("r3")).toBeUndefined();
    await b.close();
  });

  it("writes the file in WAL mode, in the table @keyv/sqlite used", async () => {
    const path = file();
    const s = new ConfigSnapshots(path);
    await s.save(snap("r1"));
    await s.close();
    const db = new DatabaseSync(path);
    const mode = db.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
    const keys = db.prepare("SELECT key FROM keyv ORDER BY key").all() as { key: string }[];
    db.close();
    expect(mode.journal_mode).toBe("wal");
    expect(keys.map((k) => k.key)).toEqual(["veltrix-config:latest", "veltrix-config:rev:r1"]);
  });

  it("rejects a write that fails instead of dropping it", async () => {
    const s = new ConfigSnapshots(file());
    await s.close();
    await expect(s.save(snap("r1"))).rejects.toThrow(/finalized|not open/);
  });
});
