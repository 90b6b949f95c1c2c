// The attack report: how the mark survives removal attempts. The four fine-tuning attacks of the
// paper (the very routine `wmnn fine-tune` runs, training/fine-tune) and a global
// magnitude-pruning sweep, each point scored on the test set, on the trigger set (with the owner's
// private key for RTLL/RTAL, as fine-tune does) and by verify's p-value.
import { join } from 'node:path';
import type { Checkpoint } from '../checkpoint/read.js';
import { fineTune, type AttackMode } from '../training/fine-tune.js';
import { stopAgreed, type EvalResult } from '../training/loop.js';
import { loadInto } from '../training/persist.js';
import { evaluateLogged, phaseSummary, type PhaseSummary } from '../training/run.js';
import { RunInterrupted, type Session } from '../training/session.js';
import { agreementPValue, significant } from './binomial.js';
import { MagnitudePruner } from './prune.js';

export { ATTACK_MODES } from '../training/fine-tune.js';
export const DEFAULT_PRUNE_RATES = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90] as const;

export interface ReportPoint {
  test: PhaseSummary;
  trigger: PhaseSummary;
  pValue: number | null;
  pValueText: string;
  log10PValue: number;
  shown: boolean;
}

export interface PruningPoint extends ReportPoint {
  /** Percent of the conv and linear weights set to zero. */
  rate: number;
  zeroed: number;
  total: number;
}

export interface FineTuningPoint extends ReportPoint {
  /** 0: the model before the attack. */
  epoch: number;
  /**
   * RTLL/RTAL: the point as other toolkits score it, with the attacker's new last layer (the
   * fields above swap the owner's layer back in, as fine-tune.py does). FTLL/FTAL: absent, the
   * two are the same layer.
   */
  attackerLayer?: ReportPoint;
}

export interface AttackRun {
  mode: AttackMode;
  points: FineTuningPoint[];
}

export interface AttackResults {
  original: ReportPoint;
  pruning: PruningPoint[];
  fineTuning: AttackRun[];
}

export interface AttackPlan {
  /** The checkpoint every attack starts again from. */
  checkpoint: Checkpoint;
  /** Chance agreement is 1/classes (the committed label classes). */
  classes: number;
  alpha: number;
  pruneRates: readonly number[];
  attacks: readonly AttackMode[];
  epochs: number;
  lr: number;
  batchSize: number;
  seed: number;
  /** Save each attacked model as <folder>/<mode>.t7 (lower case); absent: models are not kept. */
  saveModelsTo?: string;
}

function point(test: EvalResult, trigger: EvalResult, classes: number, alpha: number): ReportPoint {
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

const pct = (s: PhaseSummary): string => `${s.accuracy.toFixed(2)}%`;
const summary = (label: string, p: ReportPoint): string =>
  `${label}: test ${pct(p.test)}, trigger ${pct(p.trigger)} (${p.trigger.correct}/${p.trigger.total}), p = ${p.pValueText}, mark ${p.shown ? 'shown' : 'not shown'}`;

async function score(s: Session, plan: AttackPlan, label: string): Promise<ReportPoint> {
  const show = { say: (line: string) => s.say(`[${label}] ${line}`), progressMode: s.progressMode };
  const test = await evaluateLogged(s.model, s.test, plan.batchSize, 'Test acc:', show);
  const trigger = await evaluateLogged(s.model, triggerOf(s), plan.batchSize, 'WM acc:', show);
  const p = point(test, trigger, plan.classes, plan.alpha);
  s.say(summary(label, p));
  return p;
}

function triggerOf(s: Session) {
  if (!s.trigger) throw new Error('an attack report needs the trigger set');
  return s.trigger;
}

const interrupted = (): RunInterrupted => new RunInterrupted('no report written');

async function pruningSweep(s: Session, plan: AttackPlan): Promise<PruningPoint[]> {
  if (plan.pruneRates.length === 0) return [];
  const pruner = new MagnitudePruner(s.model);
  const points: PruningPoint[] = [];
  try {
    for (const rate of plan.pruneRates) {
      const r = pruner.apply(rate / 100);
      points.push({ rate, zeroed: r.zeroed, total: r.total, ...(await score(s, plan, `prune ${rate}%`)) });
      if (stopAgreed(s.model, s.stop)) throw interrupted();
    }
  } finally {
    pruner.restore();
  }
  return points;
}

async function attackRun(s: Session, plan: AttackPlan, mode: AttackMode, original: ReportPoint): Promise<AttackRun> {
  const r = await fineTune(
    { ...s, say: (line) => s.say(`[${mode}] ${line.trim()}`) },
    {
      checkpoint: plan.checkpoint,
      mode,
      lr: plan.lr,
      maxEpochs: plan.epochs,
      batchSize: plan.batchSize,
      seed: plan.seed,
      resume: false,
      scoreFirst: false, // the unattacked model was scored once, as `original`
      ...(plan.saveModelsTo ? { savePath: join(plan.saveModelsTo, `${mode.toLowerCase()}.t7`) } : {}),
      command: 'attack',
    },
  );
  const points: FineTuningPoint[] = [{ epoch: 0, ...original }];
  for (const e of r.reports) {
    if (!e.test || !e.trigger) continue; // an epoch cut short by Ctrl-C
    // Report epochs count from the attack's start; fine-tune.py numbers them from the checkpoint's.
    const p: FineTuningPoint = {
      epoch: e.epoch - r.firstEpoch + 1,
      ...point(e.test, e.trigger, plan.classes, plan.alpha),
      ...(e.triggerAttackerLayer ? { attackerLayer: point(e.test, e.triggerAttackerLayer, plan.classes, plan.alpha) } : {}),
    };
    points.push(p);
    s.say(summary(`${mode} epoch ${p.epoch}`, p));
    if (p.attackerLayer) s.say(summary(`${mode} epoch ${p.epoch}, attacker's layer`, p.attackerLayer));
  }
  if (r.interrupted) throw interrupted();
  return { mode, points };
}

/** Runs the whole report in `s`; the model ends with the checkpoint's weights only if no attack ran. */
export async function runAttacks(s: Session, plan: AttackPlan): Promise<AttackResults> {
  loadInto(s.model, plan.checkpoint, { momentum: false });
  const original = await score(s, plan, 'original');
  const pruning = await pruningSweep(s, plan);
  const fineTuning: AttackRun[] = [];
  if (plan.epochs > 0) for (const mode of plan.attacks) fineTuning.push(await attackRun(s, plan, mode, original));
  return { original, pruning, fineTuning };
}
