// Reading the generated tables in the docs, for the tests that hold them equal to their
// source tables (flags, exit codes): cells without Prettier's padding or separator row.

/** Table cells, ignoring Prettier's column padding and the separator row. */
export function tableCells(table: string): string[][] {
  return table
    .trim()
    .split("\n")
    .filter((l) => !/^\|[\s|:-]+\|$/.test(l))
    .map((l) =>
      l
        .split(/(?<!\\)\|/)
        .map((c) => c.trim())
        .slice(1, -1),
    );
}

/** The text between `<!-- NAME:begin … -->` and `<!-- NAME:end -->`, or "" when absent. */
export function betweenMarkers(doc: string, name: string): string {
  return new RegExp(`<!-- ${name}:begin[^>]*-->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(doc)?.[1] ?? "";
}
