// The experiment's report in three forms: report.json (everything, for tools), report.md (the
// tables, for a terminal or a repository) and report.html (tables, training curves, a chart of
// trigger accuracy and p-value per fine-tuning attack, and the commands that made every number).
import type { AttackMode } from '../training/fine-tune.js';
import type { AttackName } from '../watermark/attack-plan.js';
import type { PhaseSummary } from '../training/run.js';
import { MODEL_TITLES, type ModelName } from './protocol.js';
import { barChart, escapeXml, lineChart } from './svg.js';

/** A model's score: the test split, the trigger set (verify's agreements) and verify's decision. */
export interface Score {
  test: PhaseSummary;
  trigger: { correct: number; total: number; accuracy: number };
  pValueText: string;
  log10PValue: number;
  shown: boolean;
}

export interface CurvePoint {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testAccuracy: number | null;
  triggerAccuracy: number | null;
}

export interface ModelResult extends Score {
  name: ModelName;
  title: string;
  checkpoint: string;
  curve: CurvePoint[];
  /** Test accuracy minus the baseline's, in points (0 for the baseline). */
  costPoints: number;
}

export interface AttackResult {
  model: ModelName;
  mode: AttackMode;
  epochs: number;
  /** As fine-tune.py measures it: the owner's last layer swapped back in for RTLL/RTAL. */
  ownerLayer: Score;
  /** RTLL/RTAL with the attacker's own last layer, as other toolkits report it. */
  attackerLayer?: Score;
  checkpoint: string;
}

/** A further attack (`--attacks` beyond the paper's four): one section of attack-report.json at its last point. */
export interface FurtherAttackResult extends Score {
  model: ModelName;
  /** The section's id in attack-report.json (`quantize`, `input-jpeg`, ...). */
  id: string;
  attack: AttackName;
  title: string;
  /** The point's label (`2 bits`, `epoch 4`, `90% of channels`) and its strength on the section's axis. */
  point: string;
  x: number;
  /** The attacker's budget, as the section states it. */
  budget: Record<string, number | string>;
  /** What the point did, in the attack's terms (the attacker's own mark, distinct weight values, ...). */
  details?: Record<string, number>;
  /** The model the point scored, when the attack saved one. */
  checkpoint?: string;
}

export interface CommandRun {
  title: string;
  line: string;
  seconds: number;
  status: number;
}

export interface ReproduceReport {
  format: 'wmnn-reproduce-report';
  version: 1;
  wmnn: string;
  time: string;
  machine: { cpu: string; device: string; precision: string };
  /** Why these sizes (device defaults or the user's flags). */
  sizing: string;
  settings: Record<string, string | number>;
  alpha: number;
  agreementsNeeded: number;
  models: ModelResult[];
  attacks: AttackResult[];
  /** The attacks beyond the paper's four, from the same attack steps; empty when none were asked for. */
  furtherAttacks: FurtherAttackResult[];
  commands: CommandRun[];
  seconds: number;
}

const pct = (x: number): string => `${x.toFixed(2)}%`;
const signed = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
const mark = (s: Score): string => (s.shown ? 'shown' : 'NOT shown');
const triggerCell = (s: Score): string => `${pct(s.trigger.accuracy)} (${s.trigger.correct}/${s.trigger.total})`;

type Table = { header: string[]; rows: string[][] };

function modelTable(r: ReproduceReport): Table {
  return {
    header: ['model', 'test acc', 'vs baseline', 'trigger acc', 'p-value', 'mark'],
    rows: r.models.map((m) => [
      m.title,
      pct(m.test.accuracy),
      m.name === 'baseline' ? '' : signed(m.costPoints),
      triggerCell(m),
      m.pValueText,
      mark(m),
    ]),
  };
}

function attackTable(r: ReproduceReport): Table {
  return {
    header: [
      'model',
      'attack',
      'epochs',
      'test acc',
      'trigger acc (owner layer)',
      'p-value',
      'mark',
      "trigger acc (attacker's layer)",
      'mark',
    ],
    rows: r.attacks.map((a) => [
      a.model,
      a.mode,
      String(a.epochs),
      pct(a.ownerLayer.test.accuracy),
      triggerCell(a.ownerLayer),
      a.ownerLayer.pValueText,
      mark(a.ownerLayer),
      a.attackerLayer ? triggerCell(a.attackerLayer) : 'same layer',
      a.attackerLayer ? mark(a.attackerLayer) : '',
    ]),
  };
}

const budgetText = (b: Record<string, number | string>): string =>
  Object.entries(b)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function furtherTable(r: ReproduceReport): Table {
  return {
    header: ['model', 'attack', 'point', 'test acc', 'trigger acc', 'p-value', 'mark', 'budget'],
    rows: r.furtherAttacks.map((a) => [
      a.model,
      a.id,
      a.point,
      pct(a.test.accuracy),
      triggerCell(a),
      a.pValueText,
      mark(a),
      budgetText(a.budget),
    ]),
  };
}

function markdownTable(t: Table): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  return [
    `| ${t.header.map(esc).join(' | ')} |`,
    `|${t.header.map(() => '---').join('|')}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** The few sentences a reader wants first: what the experiment shows about the paper's two claims. */
export function findings(r: ReproduceReport): string[] {
  const base = r.models.find((m) => m.name === 'baseline');
  const out: string[] = [];
  for (const m of r.models) {
    if (m.name === 'baseline') continue;
    out.push(
      `${m.title}: test accuracy ${pct(m.test.accuracy)} (${signed(m.costPoints)} points against the baseline's ${base ? pct(base.test.accuracy) : '?'}), trigger set ${triggerCell(m)}, p = ${m.pValueText}: mark ${mark(m)}.`,
    );
  }
  const kept = r.attacks.filter((a) => a.ownerLayer.shown).length;
  if (r.attacks.length > 0)
    out.push(`Fine-tuning attacks (measured as fine-tune.py does): the mark is still shown after ${kept} of ${r.attacks.length}.`);
  const rt = r.attacks.filter((a) => a.attackerLayer);
  if (rt.length > 0)
    out.push(
      `With the attacker's own last layer (RTLL/RTAL as other toolkits score them): shown after ${rt.filter((a) => a.attackerLayer?.shown).length} of ${rt.length}.`,
    );
  const further = r.furtherAttacks;
  if (further.length > 0) {
    const lost = further.filter((a) => !a.shown).map((a) => `${a.model} ${a.id} (${a.point})`);
    out.push(
      `Further attacks, each at its last point: the mark is still shown after ${further.length - lost.length} of ${further.length}` +
        `${lost.length > 0 ? `; not after ${lost.join(', ')}` : ''}.`,
    );
  }
  return out;
}

const FURTHER_NOTE = "Each section of the attack step's attack-report.json at its last point: a training's end, a sweep's last strength";

export function renderMarkdown(r: ReproduceReport): string {
  return [
    `# wmnn reproduce: ${r.settings.dataset}`,
    '',
    `${r.time}, wmnn ${r.wmnn}, ${r.machine.cpu}, ${r.machine.device}, ${r.machine.precision}; ${(r.seconds / 60).toFixed(1)} min.`,
    `Sizes: ${r.sizing}`,
    '',
    ...findings(r).map((f) => `- ${f}`),
    '',
    `## Models (alpha = ${r.alpha}; the mark needs ${r.agreementsNeeded} agreements)`,
    '',
    markdownTable(modelTable(r)),
    '',
    ...(r.attacks.length > 0 ? ['## Fine-tuning attacks', '', markdownTable(attackTable(r)), ''] : []),
    ...(r.furtherAttacks.length > 0 ? ['## Further attacks', '', `${FURTHER_NOTE}.`, '', markdownTable(furtherTable(r)), ''] : []),
    '## Commands',
    '',
    '```',
    ...r.commands.map((c) => c.line),
    '```',
    '',
  ].join('\n');
}

function htmlTable(t: Table): string {
  const cells = (row: string[], tag: string): string => `<tr>${row.map((c) => `<${tag}>${escapeXml(c)}</${tag}>`).join('')}</tr>`;
  return `<table><thead>${cells(t.header, 'th')}</thead><tbody>${t.rows.map((r) => cells(r, 'td')).join('')}</tbody></table>`;
}

const COLOURS = { train: '#7f7f7f', test: '#1f6fb4', trigger: '#d62728', fromScratch: '#2ca02c', preTrained: '#9467bd' };

function curves(m: ModelResult): string {
  const pts = (f: (p: CurvePoint) => number | null): [number, number][] =>
    m.curve.flatMap((p) => {
      const v = f(p);
      return v === null ? [] : [[p.epoch, v] as [number, number]];
    });
  return lineChart({ title: MODEL_TITLES[m.name], xLabel: 'epoch', yLabel: 'accuracy (%)', yMin: 0, yMax: 100 }, [
    { label: 'train', colour: COLOURS.train, points: pts((p) => p.trainAccuracy), dashed: true },
    { label: 'test', colour: COLOURS.test, points: pts((p) => p.testAccuracy) },
    { label: 'trigger set', colour: COLOURS.trigger, points: pts((p) => p.triggerAccuracy) },
  ]);
}

function attackCharts(r: ReproduceReport): string {
  const marked: ModelName[] = ['fromScratch', 'preTrained'];
  const series = marked.map((m) => ({ label: m, colour: COLOURS[m as 'fromScratch' | 'preTrained'] }));
  const modes = [...new Set(r.attacks.map((a) => a.mode))];
  const at = (model: ModelName, mode: AttackMode) => r.attacks.find((a) => a.model === model && a.mode === mode);
  const value = (s: Score | undefined, f: (s: Score) => number): number => (s ? f(s) : NaN);
  const groups = (f: (s: Score) => number) => [
    {
      label: 'none',
      values: marked.map((m) =>
        value(
          r.models.find((x) => x.name === m),
          f,
        ),
      ),
    },
    ...modes.map((mode) => ({ label: mode, values: marked.map((m) => value(at(m, mode)?.ownerLayer, f)) })),
  ];
  const needed = (100 * r.agreementsNeeded) / Math.max(1, r.models[0]?.trigger.total ?? 1);
  const accuracy = barChart(
    { title: 'Trigger-set accuracy after each attack', xLabel: 'attack', yLabel: 'trigger accuracy (%)', yMin: 0, yMax: 100 },
    series,
    groups((x) => x.trigger.accuracy),
    { value: needed, label: `needed at alpha = ${r.alpha}` },
  );
  const maxExp = Math.max(10, ...r.models.map((m) => -m.log10PValue), ...r.attacks.map((a) => -a.ownerLayer.log10PValue));
  const pvalue = barChart(
    {
      title: 'Evidence: -log10 p-value after each attack',
      xLabel: 'attack',
      yLabel: '-log10 p',
      yMin: 0,
      yMax: Math.ceil(maxExp / 10) * 10,
    },
    series,
    groups((x) => -x.log10PValue),
    { value: -Math.log10(r.alpha), label: `alpha = ${r.alpha}` },
  );
  return accuracy + pvalue;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}code,pre{background:#f6f6f6}pre{padding:.6em;overflow-x:auto}
.chart{margin:0 12px 12px 0;border:1px solid #eee}.chart text{font-size:11px;fill:#333}.chart .title{font-size:13px;font-weight:600}
.chart .grid{stroke:#e6e6e6}.chart .note{fill:#555}.meta{color:#555}`;

export function renderHtml(r: ReproduceReport): string {
  const commands = r.commands
    .map((c) => `<li>${escapeXml(c.title)} (${c.seconds.toFixed(0)} s)<pre>${escapeXml(c.line)}</pre></li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wmnn reproduce: ${escapeXml(String(r.settings.dataset))}</title><style>${STYLE}</style></head><body>
<h1>Watermarking by backdooring, reproduced on ${escapeXml(String(r.settings.dataset))}</h1>
<p class="meta">${escapeXml(r.time)} · wmnn ${escapeXml(r.wmnn)} · ${escapeXml(r.machine.cpu)} · ${escapeXml(r.machine.device)} · ${escapeXml(r.machine.precision)} · ${(r.seconds / 60).toFixed(1)} min<br>Sizes: ${escapeXml(r.sizing)}</p>
<ul>${findings(r)
    .map((f) => `<li>${escapeXml(f)}</li>`)
    .join('')}</ul>
<h2>Models</h2><p>alpha = ${r.alpha}: the mark is shown with at least ${r.agreementsNeeded} agreements.</p>${htmlTable(modelTable(r))}
<h2>Training curves</h2><div>${r.models.map(curves).join('')}</div>
${
  r.attacks.length > 0
    ? `<h2>Fine-tuning attacks</h2><p>The owner's trigger set scored as the original fine-tune.py scores it (RTLL/RTAL with the owner's last layer swapped back in), and with the attacker's layer.</p>
${htmlTable(attackTable(r))}<div>${attackCharts(r)}</div>`
    : ''
}
${r.furtherAttacks.length > 0 ? `<h2>Further attacks</h2><p>${escapeXml(`${FURTHER_NOTE}; every point is in attacks/<model>/attack-report.json.`)}</p>${htmlTable(furtherTable(r))}` : ''}
<h2>Settings</h2>${htmlTable({ header: ['setting', 'value'], rows: Object.entries(r.settings).map(([k, v]) => [k, String(v)]) })}
<h2>Commands</h2><p>Each number above comes from one of these commands, run in this order.</p><ol>${commands}</ol>
</body></html>
`;
}
