// The attack report as files and text: the JSON document (self-describing: every section says what
// was done, on which axis and with what budget) and the table printed at the end.
import type { AttackBudget, AttackName, AttackSweeps } from './attack-plan.js';
import type { AttackResults } from './attack.js';
import { BEFORE_ATTACK, type ReportPoint } from './attack-points.js';

/** Version 2: one `attacks` list of sections (version 1 had `pruning` and `fineTuning`). */
export const ATTACK_REPORT_VERSION = 2;

export interface AttackReport extends AttackResults {
  format: 'wmnn-attack-report';
  version: typeof ATTACK_REPORT_VERSION;
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
    batchSize: number;
    seed: number;
    attacks: AttackName[];
    budget: AttackBudget;
    sweeps: AttackSweeps;
    /** distill/extract's transfer dataset, when not the training split. */
    transferDataset: string | null;
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

/** The report as an aligned text table, one line per point (epoch 0 of a fine-tuning is the original). */
export function reportTable(r: AttackReport): string {
  const rows: string[][] = [row('none', 'original', r.original)];
  for (const s of r.attacks) {
    for (const p of s.points) {
      if (p.label === BEFORE_ATTACK) continue; // the original, already the first row
      if (p.before) rows.push(row(s.id, `${p.label}, pruned`, p.before));
      rows.push(row(s.id, p.before ? `${p.label}, tuned` : p.label, p));
      if (p.attackerLayer) rows.push(row(s.id, `${p.label}, attacker's layer`, p.attackerLayer));
    }
  }
  const table = [[...HEADER], ...rows];
  const widths = HEADER.map((_, c) => Math.max(...table.map((cells) => cells[c]!.length)));
  const lines = table.map((cells) =>
    cells
      .map((cell, c) => (RIGHT.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n');
}
