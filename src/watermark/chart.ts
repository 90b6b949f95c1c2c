// The attack report's chart, drawn into a pixel buffer and written as PNG: one panel per section of
// the report (accuracy against the attack's strength: rate, bits, quality, epoch, ...), each with
// the test and trigger accuracies and the trigger accuracy the mark needs.
import { Jimp, loadFont, measureText } from 'jimp';
import { SANS_12_BLACK, SANS_16_BLACK } from 'jimp/fonts';
import type { AttackReport } from './attack-report.js';
import { formatProbability } from './binomial.js';

type Font = Awaited<ReturnType<typeof loadFont>>;
type Image = InstanceType<typeof Jimp>;

/** RGBA colours. */
const WHITE = 0xffffffff;
const BLACK = 0x000000ff;
const GRID = 0xe3e3e3ff;
const TEST = 0x1f6fb4ff;
const TRIGGER = 0xd62728ff;
const THRESHOLD = 0x6f6f6fff;

const PANEL_W = 420;
const PANEL_H = 320;
const COLUMNS = 3;
const HEADER_H = 96;
/** The plot area inside a panel. */
const PAD = { left: 52, right: 18, top: 34, bottom: 48 };

interface Series {
  colour: number;
  points: [number, number][];
  /** Dashed (fine-prune's models before their fine-tuning). */
  dash?: number;
}

interface Panel {
  title: string;
  xLabel: string;
  xTicks: number[];
  xFormat: (x: number) => string;
  series: Series[];
}

/** Pixel drawing on a jimp bitmap: rectangles, thick or dashed lines, text. */
class Canvas {
  constructor(
    readonly img: Image,
    private readonly fonts: { small: Font; large: Font },
  ) {}

  private set(x: number, y: number, colour: number): void {
    const { width, height, data } = this.img.bitmap;
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 4;
    data[i] = colour >>> 24;
    data[i + 1] = (colour >>> 16) & 0xff;
    data[i + 2] = (colour >>> 8) & 0xff;
    data[i + 3] = colour & 0xff;
  }

  rect(x: number, y: number, w: number, h: number, colour: number): void {
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) this.set(x + i, y + j, colour);
  }

  /** A line `width` pixels thick; with `dash`, drawn `dash` pixels on, `dash` off. */
  line(x0: number, y0: number, x1: number, y1: number, colour: number, width = 1, dash = 0): void {
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    const r = (width - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      if (dash > 0 && Math.floor(s / dash) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      for (let dy = -Math.ceil(r); dy <= Math.ceil(r); dy++) {
        for (let dx = -Math.ceil(r); dx <= Math.ceil(r); dx++) if (dx * dx + dy * dy <= r * r + 0.5) this.set(x + dx, y + dy, colour);
      }
    }
  }

  marker(x: number, y: number, colour: number): void {
    this.rect(Math.round(x) - 3, Math.round(y) - 3, 7, 7, colour);
    this.rect(Math.round(x) - 1, Math.round(y) - 1, 3, 3, WHITE);
  }

  /** Text with its top at y; `align` says where x is: the text's left, centre or right. */
  text(x: number, y: number, s: string, opts: { align?: 'left' | 'center' | 'right'; large?: boolean } = {}): void {
    const font = opts.large ? this.fonts.large : this.fonts.small;
    const w = measureText(font, s);
    const left = opts.align === 'center' ? x - w / 2 : opts.align === 'right' ? x - w : x;
    this.img.print({ font, x: Math.round(left), y: Math.round(y), text: s });
  }

  measure(s: string): number {
    return measureText(this.fonts.small, s);
  }

  get lineHeight(): number {
    return this.fonts.small.common.lineHeight;
  }
}

function drawPanel(c: Canvas, ox: number, oy: number, panel: Panel, threshold: number | null): void {
  const x0 = ox + PAD.left;
  const y0 = oy + PAD.top;
  const w = PANEL_W - PAD.left - PAD.right;
  const h = PANEL_H - PAD.top - PAD.bottom;
  const xMin = panel.xTicks[0] ?? 0;
  const xMax = panel.xTicks[panel.xTicks.length - 1] ?? 1;
  const px = (x: number): number => x0 + (xMax > xMin ? ((x - xMin) / (xMax - xMin)) * w : w / 2);
  const py = (acc: number): number => y0 + h - (acc / 100) * h;

  c.text(ox + PANEL_W / 2, oy + 8, panel.title, { align: 'center', large: true });
  for (let acc = 0; acc <= 100; acc += 20) {
    c.line(x0, py(acc), x0 + w, py(acc), GRID);
    c.line(x0 - 5, py(acc), x0, py(acc), BLACK);
    c.text(x0 - 8, py(acc) - c.lineHeight / 2, `${acc}%`, { align: 'right' });
  }
  for (const t of panel.xTicks) {
    c.line(px(t), y0, px(t), y0 + h, GRID);
    c.line(px(t), y0 + h, px(t), y0 + h + 5, BLACK);
    c.text(px(t), y0 + h + 7, panel.xFormat(t), { align: 'center' });
  }
  c.line(x0, y0, x0, y0 + h, BLACK);
  c.line(x0, y0 + h, x0 + w, y0 + h, BLACK);
  c.text(x0 + w / 2, y0 + h + 9 + c.lineHeight, panel.xLabel, { align: 'center' });
  if (threshold !== null) c.line(x0, py(threshold), x0 + w, py(threshold), THRESHOLD, 2, 6);
  for (const s of panel.series) {
    for (let i = 1; i < s.points.length; i++) {
      const [a, b] = [s.points[i - 1]!, s.points[i]!];
      c.line(px(a[0]), py(a[1]), px(b[0]), py(b[1]), s.colour, s.dash ? 2 : 3, s.dash ?? 0);
    }
    if (!s.dash) for (const [x, y] of s.points) c.marker(px(x), py(y), s.colour);
  }
}

/** About `count` round tick values from 0 to at least `max`. */
function ticks(max: number, count: number): number[] {
  if (max <= 0) return [0, 1];
  const raw = max / count;
  const step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000].find((s) => s >= raw) ?? Math.ceil(raw);
  const out: number[] = [];
  for (let t = 0; t < max + step; t += step) {
    out.push(t);
    if (t >= max) break;
  }
  return out;
}

/** Dash length of the series of models before their fine-tuning. */
const BEFORE_DASH = 4;

function panelsOf(r: AttackReport): Panel[] {
  return r.attacks.map((a) => {
    const xs = a.points.map((p) => p.x);
    const epochs = a.axis.unit === 'epochs';
    const befores = a.points.filter((p) => p.before);
    return {
      title: a.title,
      xLabel: a.axis.unit === '%' ? `${a.axis.name} (%)` : a.axis.name,
      // Epochs get round ticks from 0; a sweep gets a tick at every strength it tried.
      xTicks: epochs ? ticks(Math.max(...xs), 6) : [...new Set(xs)].sort((p, q) => p - q),
      xFormat: (x) => (a.axis.unit === '%' ? `${x}%` : String(x)),
      series: [
        { colour: TEST, points: a.points.map((p) => [p.x, p.test.accuracy]) },
        { colour: TRIGGER, points: a.points.map((p) => [p.x, p.trigger.accuracy]) },
        ...(befores.length > 0
          ? [
              { colour: TEST, dash: BEFORE_DASH, points: befores.map((p) => [p.x, p.before!.test.accuracy] as [number, number]) },
              { colour: TRIGGER, dash: BEFORE_DASH, points: befores.map((p) => [p.x, p.before!.trigger.accuracy] as [number, number]) },
            ]
          : []),
      ],
    };
  });
}

function drawLegend(c: Canvas, x: number, y: number, items: { colour: number; dash: number; label: string }[]): void {
  let at = x;
  for (const item of items) {
    c.line(at, y + c.lineHeight / 2, at + 34, y + c.lineHeight / 2, item.colour, item.dash ? 2 : 3, item.dash);
    if (!item.dash) c.marker(at + 17, y + c.lineHeight / 2, item.colour);
    c.text(at + 42, y, item.label);
    at += 42 + c.measure(item.label) + 30;
  }
}

/** The chart as PNG bytes. */
export async function renderAttackChart(r: AttackReport, modelName: string): Promise<Buffer> {
  const fonts = { small: await loadFont(SANS_12_BLACK), large: await loadFont(SANS_16_BLACK) };
  const panels = panelsOf(r);
  const columns = Math.max(1, Math.min(COLUMNS, panels.length));
  const rows = Math.max(1, Math.ceil(panels.length / columns));
  const img = new Jimp({ width: columns * PANEL_W, height: HEADER_H + rows * PANEL_H, color: WHITE });
  const c = new Canvas(img, fonts);

  const n = r.original.trigger.total;
  const needed = r.agreementsNeeded;
  const threshold = needed <= n && n > 0 ? (100 * needed) / n : null;
  c.text(12, 8, `wmnn attack report: ${modelName}`, { large: true });
  c.text(
    12,
    34,
    `trigger set: ${n} images, chance agreement 1/${r.nullHypothesis.classes}; the mark is shown when p <= ${formatProbability(r.alpha)}, i.e. with ${threshold === null ? `no agreement count (too few images)` : `${needed}/${n} or more trigger images right`}`,
  );
  drawLegend(c, 12, 62, [
    { colour: TEST, dash: 0, label: 'test accuracy' },
    { colour: TRIGGER, dash: 0, label: 'trigger-set accuracy (private key for RT*)' },
    ...(threshold === null ? [] : [{ colour: THRESHOLD, dash: 6, label: `trigger accuracy the mark needs (${threshold.toFixed(0)}%)` }]),
    ...(r.attacks.some((a) => a.points.some((p) => p.before)) ? [{ colour: TRIGGER, dash: BEFORE_DASH, label: 'before fine-tuning' }] : []),
  ]);
  for (const [i, panel] of panels.entries()) {
    drawPanel(c, (i % columns) * PANEL_W, HEADER_H + Math.floor(i / columns) * PANEL_H, panel, threshold);
  }
  return img.getBuffer('image/png', { colorType: 2 });
}
