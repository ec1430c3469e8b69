/**
 * The chart (bench/results/<date>.svg): TCP goodput per contender, -P 1 and -P 4 side by side,
 * horizontal bars at the median with a whisker from min to max. Hand-written SVG, no
 * dependencies; failed contenders are listed with their status instead of a bar. The axis is
 * scaled to the tunnels: the plain-veth baseline, an order of magnitude faster, would flatten
 * them, so bars beyond the axis are cut at its end and marked "»" with their value.
 */
import type { Report } from './types.js';

const WIDTH = 960;
const LABEL_W = 290;
const RIGHT_PAD = 70;
const TOP = 64;
const ROW_H = 40;
const BAR_H = 14;
const BOTTOM = 48;
const COLORS = { tcp1: '#4e79a7', tcp4: '#f28e2b' } as const;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round axis maximum and step (1, 2 or 5 times a power of ten) for `max`. */
function niceAxis(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

export function renderSvg(report: Report): string {
  const rows = report.contenders;
  const gb = (v: number): number => v / 1e9;
  const peak = (list: typeof rows): number =>
    Math.max(0, ...list.flatMap((c) => [c.summary.tcp1BitsPerSecond?.max ?? 0, c.summary.tcp4BitsPerSecond?.max ?? 0].map(gb)));
  const tunnelPeak = peak(rows.filter((c) => c.kind !== 'baseline'));
  const { top, step } = niceAxis(tunnelPeak > 0 ? tunnelPeak : peak(rows));
  const plotW = WIDTH - LABEL_W - RIGHT_PAD;
  const height = TOP + rows.length * ROW_H + BOTTOM;
  const x = (v: number): number => LABEL_W + (Math.min(v, top) / top) * plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">TCP goodput, Gbit/s (median, whisker min–max; ${report.options.reps} rep × ${report.options.durationSeconds} s)</text>`,
    `<rect x="${LABEL_W}" y="34" width="12" height="12" fill="${COLORS.tcp1}"/><text x="${LABEL_W + 18}" y="44">iperf3 -P 1</text>`,
    `<rect x="${LABEL_W + 110}" y="34" width="12" height="12" fill="${COLORS.tcp4}"/><text x="${LABEL_W + 128}" y="44">iperf3 -P 4</text>`,
  ];
  const axisY = TOP + rows.length * ROW_H;
  for (let v = 0; v <= top + step / 2; v += step) {
    const px = x(v).toFixed(1);
    out.push(`<line x1="${px}" y1="${TOP - 6}" x2="${px}" y2="${axisY}" stroke="#dddddd"/>`);
    out.push(`<text x="${px}" y="${axisY + 16}" text-anchor="middle">${esc(Number(v.toPrecision(6)).toString())}</text>`);
  }
  out.push(`<text x="${LABEL_W + plotW / 2}" y="${axisY + 36}" text-anchor="middle">Gbit/s</text>`);
  rows.forEach((c, i) => {
    const y0 = TOP + i * ROW_H;
    out.push(`<text x="${LABEL_W - 8}" y="${y0 + ROW_H / 2 + 4}" text-anchor="end">${esc(c.label)}</text>`);
    if (c.status === 'failed') {
      out.push(`<text x="${LABEL_W + 6}" y="${y0 + ROW_H / 2 + 4}" fill="#999999">failed</text>`);
      return;
    }
    const bars = [
      ['tcp1', c.summary.tcp1BitsPerSecond, y0 + 5],
      ['tcp4', c.summary.tcp4BitsPerSecond, y0 + 5 + BAR_H + 2],
    ] as const;
    for (const [key, s, y] of bars) {
      if (s === null) continue;
      const w = Math.max(0, x(gb(s.median)) - LABEL_W);
      out.push(`<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLORS[key]}"/>`);
      const off = gb(s.median) > top;
      if (s.n > 1 && gb(s.min) < top) {
        const mid = y + BAR_H / 2;
        const [lo, hi] = [x(gb(s.min)).toFixed(1), x(gb(s.max)).toFixed(1)];
        out.push(`<line x1="${lo}" y1="${mid}" x2="${hi}" y2="${mid}" stroke="#333333"/>`);
        out.push(`<line x1="${lo}" y1="${y + 3}" x2="${lo}" y2="${y + BAR_H - 3}" stroke="#333333"/>`);
        out.push(`<line x1="${hi}" y1="${y + 3}" x2="${hi}" y2="${y + BAR_H - 3}" stroke="#333333"/>`);
      }
      const labelX = Math.max(x(gb(s.max)), x(gb(s.median))) + 4;
      out.push(`<text x="${labelX.toFixed(1)}" y="${y + BAR_H - 3}" font-size="11">${off ? '» ' : ''}${gb(s.median).toFixed(2)}</text>`);
    }
  });
  out.push(`<line x1="${LABEL_W}" y1="${TOP - 6}" x2="${LABEL_W}" y2="${axisY}" stroke="#333333"/>`);
  out.push('</svg>', '');
  return out.join('\n');
}
