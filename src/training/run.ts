// The epochs of every training run, as the original runs them: set the lr, train one epoch,
// `Test acc:` on the test set, `WM acc:` on the trigger set, save. What differs between train and
// the fine-tuning attacks (trigger images appended, frozen layers, the private-key swap) is data
// here.
import type { DeviceData, Metrics, Model } from '../native/engine.js';
import { evaluate, stopAgreed, trainEpoch, type EvalResult, type StopFlag, type TrainResult } from './loop.js';
import type { RunLog } from './logs.js';
import { meanLoss, startProgress, type ProgressMode } from './progress.js';

export interface EpochReport {
  epoch: number;
  lr: number;
  train: TrainResult;
  test?: EvalResult;
  /** The trigger set as the original scores it (with the private key in RTLL/RTAL). */
  trigger?: EvalResult;
  /** RTLL/RTAL: the trigger set scored with the attacker's own last layer, as other toolkits report. */
  triggerAttackerLayer?: EvalResult;
}

/** Where an interrupted epoch stopped, for a checkpoint that resumes it. */
export interface Interrupted {
  epoch: number;
  nextStep: number;
}

export interface EpochPlan {
  model: Model;
  train: DeviceData;
  test: DeviceData;
  batchSize: number;
  /** The trigger set, evaluated after every epoch. */
  trigger?: DeviceData;
  triggerEvalBatchSize: number;
  /** Append this many trigger images to every training batch (train --wmtrain). */
  triggerAppend?: number;
  /** Where the appended images come from when not `trigger` (the overwrite attack: the attacker's own set). */
  appendFrom?: DeviceData;
  /** Evaluate the trigger set with the stashed `linear` (fine-tune's private key). */
  privateKey: boolean;
  lrAt: (epoch: number) => number;
  seed: number;
  firstEpoch: number;
  epochs: number;
  /** Resume the first epoch at this batch. */
  startStep: number;
  /** The original's log file; absent for runs that keep no log (attack reports). */
  log?: RunLog;
  say: (line: string) => void;
  progressMode: ProgressMode;
  stop: StopFlag;
  /** The accuracy saved until an epoch finishes (a resumed checkpoint's; 0 for a new model). */
  initialAcc: number;
  /**
   * Called after every finished epoch with its test accuracy, and once with `interrupted` when a
   * stop cuts an epoch (then `epoch` is the last finished one and `acc` its accuracy). Absent: the
   * run keeps no checkpoint (an attack report), and says no "Saving..".
   */
  save?: (epoch: number, acc: number, interrupted?: Interrupted) => void;
}

/** The original's optimiser: SGD(lr, momentum=0.9, weight_decay=5e-4), in every script. */
export const ORIGINAL_SGD = { momentum: 0.9, weightDecay: 5e-4 } as const;

/** The percentage the original stores as `acc`: 100 * correct / total. */
export const accuracy = (r: { correct: number; total: number }): number => (r.total > 0 ? (100 * r.correct) / r.total : 0);

export interface PhaseSummary {
  loss: number;
  accuracy: number;
  correct: number;
  total: number;
}

export function phaseSummary(r: Metrics): PhaseSummary {
  return { loss: meanLoss(r), accuracy: accuracy(r), correct: r.correct, total: r.total };
}

/** One epoch as the --json output of train, fine-tune and attack reports it. */
export type EpochJson = ReturnType<typeof epochsJson>[number];

/** The epochs of a run as the --json output reports them. */
export function epochsJson(reports: readonly EpochReport[]) {
  return reports.map((r) => ({
    epoch: r.epoch,
    lr: r.lr,
    train: {
      ...phaseSummary(r.train),
      seconds: r.train.seconds,
      imagesPerSecond: r.train.seconds > 0 ? r.train.total / r.train.seconds : 0,
      ...(r.train.communicationSeconds !== undefined ? { communicationSeconds: r.train.communicationSeconds } : {}),
    },
    test: r.test ? phaseSummary(r.test) : null,
    trigger: r.trigger ? phaseSummary(r.trigger) : null,
    ...(r.triggerAttackerLayer ? { triggerAttackerLayer: phaseSummary(r.triggerAttackerLayer) } : {}),
  }));
}

export async function evaluateLogged(
  model: Model,
  data: DeviceData,
  batchSize: number,
  title: string,
  plan: Pick<EpochPlan, 'log' | 'say' | 'progressMode'>,
): Promise<EvalResult> {
  plan.say(title);
  const r = await evaluate(model, data, batchSize, startProgress({ mode: plan.progressMode }));
  plan.log?.evaluation(r);
  return r;
}

/** Runs the planned epochs; returns what each did. Stops early (after saving) when asked to. */
export async function runEpochs(plan: EpochPlan): Promise<{ reports: EpochReport[]; interrupted: boolean }> {
  const { model } = plan;
  const reports: EpochReport[] = [];
  const appended = plan.appendFrom ?? plan.trigger;
  let acc = plan.initialAcc;
  for (let epoch = plan.firstEpoch; epoch < plan.firstEpoch + plan.epochs; epoch++) {
    const lr = plan.lrAt(epoch);
    model.setSgd({ lr, ...ORIGINAL_SGD });
    plan.say(`\nEpoch: ${epoch}`);
    const train = await trainEpoch(model, {
      data: plan.train,
      batchSize: plan.batchSize,
      ...(appended && plan.triggerAppend ? { trigger: { data: appended, batchSize: plan.triggerAppend } } : {}),
      seed: plan.seed + epoch,
      startStep: epoch === plan.firstEpoch ? plan.startStep : 0,
      progress: startProgress({ mode: plan.progressMode }),
      stop: plan.stop,
    });
    if (!train.completed) {
      plan.save?.(epoch - 1, acc, { epoch, nextStep: train.stepsDone });
      reports.push({ epoch, lr, train });
      return { reports, interrupted: true };
    }
    plan.log?.epoch(epoch, train);
    const test = await evaluateLogged(model, plan.test, plan.batchSize, 'Test acc:', plan);
    let trigger: EvalResult | undefined;
    let triggerAttackerLayer: EvalResult | undefined;
    if (plan.trigger) {
      if (plan.privateKey) model.swapLinear();
      trigger = await evaluateLogged(model, plan.trigger, plan.triggerEvalBatchSize, 'WM acc:', plan);
      if (plan.privateKey) {
        model.swapLinear();
        // Not in the original's log or console: its files stay line for line the same.
        triggerAttackerLayer = await evaluate(model, plan.trigger, plan.triggerEvalBatchSize, startProgress({ mode: 'silent' }));
      }
    }
    acc = accuracy(test);
    if (plan.save) {
      plan.say('Saving..');
      plan.save(epoch, acc);
    }
    reports.push({ epoch, lr, train, test, ...(trigger ? { trigger } : {}), ...(triggerAttackerLayer ? { triggerAttackerLayer } : {}) });
    if (stopAgreed(model, plan.stop)) return { reports, interrupted: true };
  }
  return { reports, interrupted: false };
}
