// What every attack reports, point by point: test accuracy, trigger accuracy, verify's p-value and
// whether the mark is still shown; and the self-describing section one attack's points make up.
import type { DeviceData, Model } from '../native/engine.js';
import type { AttackName } from './attack-plan.js';
import type { EvalResult } from '../training/loop.js';
import type { ProgressMode } from '../training/progress.js';
import { evaluateLogged, phaseSummary, type PhaseSummary } from '../training/run.js';
import { agreementPValue, significant } from './binomial.js';

export interface ReportPoint {
  test: PhaseSummary;
  trigger: PhaseSummary;
  pValue: number | null;
  pValueText: string;
  log10PValue: number;
  shown: boolean;
}

export interface AttackPoint extends ReportPoint {
  /** The attack's strength at this point, on the section's axis (rate, bits, quality, epoch, ...). */
  x: number;
  /** The point for people: `50%`, `4 bits`, `epoch 3`. */
  label: string;
  /** fine-prune: the model after pruning, before its fine-tuning. */
  before?: ReportPoint;
  /**
   * RTLL/RTAL: the point as other toolkits score it, with the attacker's new last layer (the
   * fields above swap the owner's layer back in, as fine-tune.py does). Absent elsewhere.
   */
  attackerLayer?: ReportPoint;
  /** What the point did, in the attack's own terms (weights zeroed, distinct values, the attacker's own mark). */
  details?: Record<string, number>;
}

/** The label of a fine-tuning's epoch 0: the unattacked model again, so that its curve starts there. */
export const BEFORE_ATTACK = 'before the attack';

export interface AttackSection {
  /** Unique in a report: the attack's name, or `input-jpeg`, `input-noise`, `input-median`. */
  id: string;
  /** The --attacks name that ran it. */
  attack: AttackName;
  title: string;
  /** What was done, in a sentence or two, with the source it follows. */
  description: string;
  axis: { name: string; unit: string };
  /** The attacker's budget and settings (epochs, lr, images it trained on, ...). */
  budget: Record<string, number | string>;
  points: AttackPoint[];
  /** The mark is shown at every point. */
  survives: boolean;
}

export function reportPoint(test: EvalResult, trigger: EvalResult, classes: number, alpha: number): ReportPoint {
  const p = agreementPValue(trigger.correct, trigger.total, classes);
  return {
    test: phaseSummary(test),
    trigger: phaseSummary(trigger),
    pValue: p.value,
    pValueText: p.text,
    log10PValue: p.log10,
    shown: significant(p, alpha),
  };
}

export function section(s: Omit<AttackSection, 'survives'>): AttackSection {
  return { ...s, survives: s.points.every((p) => p.shown) };
}

const pct = (s: PhaseSummary): string => `${s.accuracy.toFixed(2)}%`;

export const pointSummary = (label: string, p: ReportPoint): string =>
  `${label}: test ${pct(p.test)}, trigger ${pct(p.trigger)} (${p.trigger.correct}/${p.trigger.total}), p = ${p.pValueText}, mark ${p.shown ? 'shown' : 'not shown'}`;

/** A model and the test and trigger sets on its device. */
export interface Scored {
  model: Model;
  test: DeviceData;
  trigger: DeviceData;
}

export interface ScoreSettings {
  classes: number;
  alpha: number;
  batchSize: number;
  say: (line: string) => void;
  progressMode: ProgressMode;
}

/** Scores a model on the test and trigger sets, with a line for people. */
export async function score(on: Scored, settings: ScoreSettings, label: string): Promise<ReportPoint> {
  const show = { say: (line: string) => settings.say(`[${label}] ${line}`), progressMode: settings.progressMode };
  const test = await evaluateLogged(on.model, on.test, settings.batchSize, 'Test acc:', show);
  const trigger = await evaluateLogged(on.model, on.trigger, settings.batchSize, 'WM acc:', show);
  const p = reportPoint(test, trigger, settings.classes, settings.alpha);
  settings.say(pointSummary(label, p));
  return p;
}
