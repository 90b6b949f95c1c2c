// Small inline-SVG charts for report.html: line charts (training curves) and grouped bar charts
// (trigger accuracy and p-value per attack). Text is escaped; sizes are in CSS pixels.

export const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

export interface LineSeries {
  label: string;
  colour: string;
  points: readonly (readonly [number, number])[];
  dashed?: boolean;
}

export interface Axes {
  title: string;
  xLabel: string;
  yLabel: string;
  yMin: number;
  yMax: number;
}

const W = 460;
const H = 280;
const PAD = { left: 52, right: 16, top: 30, bottom: 58 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;
const TICKS = 5;

function frame(axes: Axes, yOf: (v: number) => number): string[] {
  const parts = [`<text x="${W / 2}" y="18" text-anchor="middle" class="title">${escapeXml(axes.title)}</text>`];
  for (let i = 0; i <= TICKS; i++) {
    const v = axes.yMin + ((axes.yMax - axes.yMin) * i) / TICKS;
    const y = yOf(v);
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${Number(v.toFixed(2))}</text>`);
  }
  parts.push(`<text x="${W / 2}" y="${H - 26}" text-anchor="middle">${escapeXml(axes.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${PAD.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(axes.yLabel)}</text>`);
  return parts;
}

function legend(items: readonly { label: string; colour: string }[]): string[] {
  let x = PAD.left;
  return items.map((it) => {
    const out = `<rect x="${x}" y="${H - 14}" width="10" height="10" fill="${it.colour}"/><text x="${x + 14}" y="${H - 5}">${escapeXml(it.label)}</text>`;
    x += 22 + it.label.length * 6.2;
    return out;
  });
}

const svg = (parts: readonly string[]): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" class="chart">${parts.join('')}</svg>`;

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** A line chart over integer x values (epochs). */
export function lineChart(axes: Axes, series: readonly LineSeries[]): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const xMin = Math.min(...xs, 0);
  const xMax = Math.max(...xs, xMin + 1);
  const xOf = (x: number): number => PAD.left + ((x - xMin) / (xMax - xMin)) * PLOT_W;
  const yOf = (y: number): number => PAD.top + PLOT_H - ((clamp(y, axes.yMin, axes.yMax) - axes.yMin) / (axes.yMax - axes.yMin)) * PLOT_H;
  const parts = frame(axes, yOf);
  const step = Math.max(1, Math.ceil((xMax - xMin) / 10));
  for (let x = Math.ceil(xMin); x <= xMax; x += step)
    parts.push(`<text x="${xOf(x)}" y="${PAD.top + PLOT_H + 16}" text-anchor="middle">${x}</text>`);
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${xOf(p[0]).toFixed(1)},${yOf(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    for (const p of s.points) parts.push(`<circle cx="${xOf(p[0]).toFixed(1)}" cy="${yOf(p[1]).toFixed(1)}" r="2.5" fill="${s.colour}"/>`);
  }
  parts.push(...legend(series));
  return svg(parts);
}

export interface BarGroup {
  label: string;
  /** One value per series, NaN for none. */
  values: readonly number[];
}

/** Grouped bars: one group per category, one bar per series; `threshold` draws a dashed line. */
export function barChart(
  axes: Axes,
  seriesLabels: readonly { label: string; colour: string }[],
  groups: readonly BarGroup[],
  threshold?: { value: number; label: string },
): string {
  const yOf = (y: number): number => PAD.top + PLOT_H - ((clamp(y, axes.yMin, axes.yMax) - axes.yMin) / (axes.yMax - axes.yMin)) * PLOT_H;
  const parts = frame(axes, yOf);
  const groupW = PLOT_W / Math.max(1, groups.length);
  const barW = (groupW * 0.7) / Math.max(1, seriesLabels.length);
  groups.forEach((g, gi) => {
    const x0 = PAD.left + gi * groupW + groupW * 0.15;
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v)) return;
      const y = yOf(v);
      const colour = seriesLabels[si]?.colour ?? '#888';
      parts.push(
        `<rect x="${(x0 + si * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(yOf(axes.yMin) - y).toFixed(1)}" fill="${colour}"><title>${escapeXml(`${g.label}: ${Number(v.toFixed(3))}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${(x0 + groupW * 0.35).toFixed(1)}" y="${PAD.top + PLOT_H + 16}" text-anchor="middle">${escapeXml(g.label)}</text>`,
    );
  });
  if (threshold) {
    const y = yOf(threshold.value);
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="5 4"/>`);
    parts.push(`<text x="${W - PAD.right}" y="${y - 4}" text-anchor="end" class="note">${escapeXml(threshold.label)}</text>`);
  }
  parts.push(...legend(seriesLabels));
  return svg(parts);
}
