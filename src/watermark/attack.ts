// The attack report: how the mark survives removal attempts. The four fine-tuning attacks of the
// paper (fine-tune's code: prepareAttack + runEpochs) and a global magnitude-pruning sweep, each
// point scored on the test set, on the trigger set (with the owner's private key for RTLL/RTAL,
// as fine-tune does) and by verify's p-value.
import type { Checkpoint } from '../checkpoint/read.js';
import type { DeviceData, Model } from '../native/engine.js';
import { deriveSeed, type EvalResult, type StopFlag } from '../training/loop.js';
import { loadInto } from '../training/persist.js';
import type { ProgressMode } from '../training/progress.js';
import { evaluateLogged, phaseSummary, prepareAttack, runEpochs, type AttackMode, type PhaseSummary } from '../training/run.js';
import { agreementPValue, significant } from './binomial.js';
import { MagnitudePruner } from './prune.js';

export const ATTACK_MODES: readonly AttackMode[] = ['FTLL', 'FTAL', 'RTLL', 'RTAL'];
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
  model: Model;
  /** The checkpoint every attack starts again from. */
  checkpoint: Checkpoint;
  train?: DeviceData;
  test: DeviceData;
  wm: DeviceData;
  /** Chance agreement is 1/classes (the committed label classes). */
  classes: number;
  alpha: number;
  pruneRates: readonly number[];
  attacks: readonly AttackMode[];
  epochs: number;
  lr: number;
  batchSize: number;
  seed: number;
  say: (line: string) => void;
  progressMode: ProgressMode;
  stop: StopFlag;
}

export class AttackInterrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'AttackInterrupted';
  }
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

async function score(plan: AttackPlan, label: string): Promise<ReportPoint> {
  const show = { say: (line: string) => plan.say(`[${label}] ${line}`), progressMode: plan.progressMode };
  const test = await evaluateLogged(plan.model, plan.test, plan.batchSize, 'Test acc:', show);
  const trigger = await evaluateLogged(plan.model, plan.wm, plan.batchSize, 'WM acc:', show);
  const p = point(test, trigger, plan.classes, plan.alpha);
  plan.say(summary(label, p));
  return p;
}

async function pruningSweep(plan: AttackPlan): Promise<PruningPoint[]> {
  if (plan.pruneRates.length === 0) return [];
  const pruner = new MagnitudePruner(plan.model);
  const points: PruningPoint[] = [];
  try {
    for (const rate of plan.pruneRates) {
      const r = pruner.apply(rate / 100);
      points.push({ rate, zeroed: r.zeroed, total: r.total, ...(await score(plan, `prune ${rate}%`)) });
      if (plan.stop.requested) throw new AttackInterrupted();
    }
  } finally {
    pruner.restore();
  }
  return points;
}

async function fineTune(plan: AttackPlan, mode: AttackMode, index: number, original: ReportPoint): Promise<AttackRun> {
  const { model } = plan;
  if (!plan.train) throw new Error('fine-tuning attacks need a training set');
  loadInto(model, plan.checkpoint, { momentum: false });
  const { privateKey } = prepareAttack(model, mode, deriveSeed(plan.seed, 0x11, index));
  const points: FineTuningPoint[] = [{ epoch: 0, ...original }];
  const { reports, interrupted } = await runEpochs({
    model,
    train: plan.train,
    test: plan.test,
    batchSize: plan.batchSize,
    wm: plan.wm,
    wmEvalBatchSize: plan.batchSize,
    privateKey,
    lrAt: () => plan.lr,
    seed: deriveSeed(plan.seed, 0x5eed, index),
    firstEpoch: 1,
    epochs: plan.epochs,
    startStep: 0,
    // No log files and no checkpoints (so runEpochs' "Saving.." would mislead): the numbers go
    // into the report instead.
    say: (line) => {
      if (line !== 'Saving..') plan.say(`[${mode}] ${line.trim()}`);
    },
    progressMode: plan.progressMode,
    stop: plan.stop,
    initialAcc: 0,
    save: () => {},
  });
  for (const r of reports) {
    if (!r.test || !r.wm) continue; // an epoch cut short by Ctrl-C
    const p = { epoch: r.epoch, ...point(r.test, r.wm, plan.classes, plan.alpha) };
    points.push(p);
    plan.say(summary(`${mode} epoch ${r.epoch}`, p));
  }
  if (interrupted) throw new AttackInterrupted();
  return { mode, points };
}

/** Runs the whole report; the model ends with the checkpoint's weights only if no attack ran. */
export async function runAttacks(plan: AttackPlan): Promise<AttackResults> {
  loadInto(plan.model, plan.checkpoint, { momentum: false });
  const original = await score(plan, 'original');
  const pruning = await pruningSweep(plan);
  const fineTuning: AttackRun[] = [];
  for (const [i, mode] of plan.attacks.entries()) {
    if (plan.epochs > 0) fineTuning.push(await fineTune(plan, mode, i, original));
  }
  return { original, pruning, fineTuning };
}
