// RFC 6902 JSON Patch: a diff that turns one JSON document into another, and an
// apply for the three operations the diff emits (add, remove, replace). Arrays
// that only grew at the end get `add` per new element; any other array change
// replaces the array whole, so the patch never depends on index arithmetic.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type PatchOperation =
  | { op: "add"; path: string; value: JsonValue }
  | { op: "replace"; path: string; value: JsonValue }
  | { op: "remove"; path: string };

function escapeToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

function unescapeToken(token: string): string {
  return token.replaceAll("~1", "/").replaceAll("~0", "~");
}

function isObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function deepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

function diffInto(from: JsonValue, to: JsonValue, path: string, ops: PatchOperation[]): void {
  if (from === to) return;
  // Objects recurse key by key; equal subtrees produce nothing, so no whole-tree compare first.
  if (isObject(from) && isObject(to)) {
    for (const key of Object.keys(from)) {
      if (!(key in to)) ops.push({ op: "remove", path: `${path}/${escapeToken(key)}` });
    }
    for (const [key, value] of Object.entries(to)) {
      const before = from[key];
      const p = `${path}/${escapeToken(key)}`;
      if (before === undefined) ops.push({ op: "add", path: p, value });
      else diffInto(before, value, p, ops);
    }
    return;
  }
  if (Array.isArray(from) && Array.isArray(to)) {
    if (to.length >= from.length && from.every((v, i) => deepEqual(v, to[i]))) {
      for (let i = from.length; i < to.length; i++)
        ops.push({ op: "add", path: `${path}/${i}`, value: to[i]! });
      return;
    }
    if (to.length === from.length) {
      // (equal arrays took the branch above)
      // Same shape: descend so a changed element yields a focused patch.
      for (let i = 0; i < to.length; i++) diffInto(from[i]!, to[i]!, `${path}/${i}`, ops);
      return;
    }
  }
  if (!deepEqual(from, to)) ops.push({ op: "replace", path, value: to });
}

/** The patch that turns `from` into `to` (empty when they are equal). */
export function diffJson(from: JsonValue, to: JsonValue): PatchOperation[] {
  const ops: PatchOperation[] = [];
  diffInto(from, to, "", ops);
  return ops;
}

/** Applies a patch to a copy of `doc`; throws on a path that does not resolve. */
export function applyPatch(doc: JsonValue, ops: readonly PatchOperation[]): JsonValue {
  let root = structuredClone(doc);
  for (const op of ops) {
    if (op.path === "") {
      if (op.op === "remove") throw new Error("cannot remove the document root");
      root = structuredClone(op.value);
      continue;
    }
    const tokens = op.path.split("/").slice(1).map(unescapeToken);
    const last = tokens.pop()!;
    let parent: JsonValue = root;
    for (const token of tokens) {
      const next: JsonValue | undefined = Array.isArray(parent)
        ? parent[Number(token)]
        : isObject(parent)
          ? parent[token]
          : undefined;
      if (next === undefined) throw new Error(`path ${op.path} does not exist`);
      parent = next;
    }
    if (Array.isArray(parent)) {
      const index = last === "-" ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) {
        throw new Error(`bad array index in ${op.path}`);
      }
      if (op.op === "add") parent.splice(index, 0, structuredClone(op.value));
      else if (index >= parent.length) throw new Error(`path ${op.path} does not exist`);
      else if (op.op === "remove") parent.splice(index, 1);
      else parent[index] = structuredClone(op.value);
    } else if (isObject(parent)) {
      if (op.op !== "add" && !(last in parent)) throw new Error(`path ${op.path} does not exist`);
      if (op.op === "remove") delete parent[last];
      else parent[last] = structuredClone(op.value);
    } else {
      throw new Error(`path ${op.path} does not resolve to a container`);
    }
  }
  return root;
}
