// The attack report as files and text: the JSON document and the table printed at the end.
import type { AttackMode } from '../training/fine-tune.js';
import type { AttackResults, ReportPoint } from './attack.js';

export interface AttackReport extends AttackResults {
  format: 'wmnn-attack-report';
  version: 1;
  wmnn: string;
  time: string;
  model: { path: string; sha256: string; classes: number };
  triggerSet: { path: string; labelsFile: string; images: number };
  /** Chance agreement per trigger image: 1/classes. */
  nullHypothesis: { classes: number; classesFrom: 'commitments' | 'model'; statement: string };
  alpha: number;
  agreementsNeeded: number;
  settings: {
    dataset: string;
    lr: number;
    epochs: number;
    batchSize: number;
    seed: number;
    attacks: AttackMode[];
    pruneRates: number[];
  };
}

const HEADER = ['attack', 'point', 'test acc', 'trigger acc', 'p-value', 'mark'] as const;
/** Right-aligned columns (numbers); the others are left-aligned. */
const RIGHT = new Set([2, 3, 4]);

function row(attack: string, at: string, p: ReportPoint): string[] {
  return [
    attack,
    at,
    `${p.test.accuracy.toFixed(2)}%`,
    `${p.trigger.accuracy.toFixed(2)}% (${p.trigger.correct}/${p.trigger.total})`,
    p.pValueText,
    p.shown ? 'shown' : 'NOT shown',
  ];
}

/** The report as an aligned text table, one line per point. */
export function reportTable(r: AttackReport): string {
  const rows: string[][] = [row('none', 'original', r.original)];
  for (const p of r.pruning) rows.push(row('pruning', `${p.rate}%`, p));
  for (const run of r.fineTuning) {
    for (const p of run.points.slice(1)) {
      rows.push(row(run.mode, `epoch ${p.epoch}`, p));
      if (p.attackerLayer) rows.push(row(run.mode, `epoch ${p.epoch}, attacker's layer`, p.attackerLayer));
    }
  }
  const table = [[...HEADER], ...rows];
  const widths = HEADER.map((_, c) => Math.max(...table.map((cells) => cells[c]!.length)));
  const lines = table.map((cells) => cells.map((cell, c) => (RIGHT.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n');
}
