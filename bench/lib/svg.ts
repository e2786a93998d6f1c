// A small SVG line chart (one line per series, optional log axes) for docs/benchmarks.md.
export interface Series {
  name: string;
  points: [number, number][];
}

const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"];

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    return out;
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const n = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / n) * n; v <= hi + 1e-9; v += n) out.push(v);
  return out;
}

const label = (v: number): string =>
  v >= 1000 ? `${v / 1000}k` : v >= 1 || v === 0 ? String(Number(v.toPrecision(3))) : v.toPrecision(2);

export function lineChart(o: {
  title: string;
  x: string;
  y: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
}): string {
  const W = 720;
  const H = 400;
  const L = 70;
  const R = 200;
  const T = 40;
  const B = 50;
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const ok = (v: number, log?: boolean): boolean => Number.isFinite(v) && (!log || v > 0);
  const xs = pts.map((p) => p[0]).filter((v) => ok(v, o.logX));
  const ys = pts.map((p) => p[1]).filter((v) => ok(v, o.logY));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [o.logY ? Math.min(...ys) : Math.min(0, ...ys), Math.max(...ys)];
  if (!Number.isFinite(x0)) [x0, x1] = [1, 10];
  if (!Number.isFinite(y0)) [y0, y1] = [1, 10];
  if (x0 === x1) x1 = x0 * 2 || 1;
  if (y0 === y1) y1 = y0 * 2 || 1;
  if (o.logY) {
    y0 = 10 ** Math.floor(Math.log10(y0));
    y1 = 10 ** Math.ceil(Math.log10(y1));
  }
  const f = (v: number, lo: number, hi: number, log?: boolean): number =>
    log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : (v - lo) / (hi - lo);
  const px = (v: number): number => L + f(v, x0, x1, o.logX) * (W - L - R);
  const py = (v: number): number => H - B - f(v, y0, y1, o.logY) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
  ];
  for (const t of ticks(x0, x1, o.logX ?? false)) {
    out.push(`<line x1="${px(t)}" y1="${T}" x2="${px(t)}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<text x="${px(t)}" y="${H - B + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  for (const t of ticks(y0, y1, o.logY ?? false)) {
    out.push(`<line x1="${L}" y1="${py(t)}" x2="${W - R}" y2="${py(t)}" stroke="#eee"/>`);
    out.push(`<text x="${L - 6}" y="${py(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.x)}</text>`);
  out.push(
    `<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${esc(o.y)}</text>`,
  );
  o.series.forEach((s, i) => {
    const c = palette[i % palette.length] ?? "black";
    const p = s.points.filter(([x, y]) => ok(x, o.logX) && ok(y, o.logY));
    if (p.length > 1)
      out.push(
        `<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`,
      );
    for (const [x, y] of p)
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${c}"/>`);
    const ly = T + 10 + i * 18;
    out.push(
      `<line x1="${W - R + 12}" y1="${ly}" x2="${W - R + 32}" y2="${ly}" stroke="${c}" stroke-width="2"/>`,
    );
    out.push(`<text x="${W - R + 38}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
