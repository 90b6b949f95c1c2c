// The one epoch loop shared by train, fine-tune and attack, and the one evaluation loop shared by
// every command that scores a model. Batches, augmentation and the appended trigger images are
// made on the device; metrics are read only when the display or the phase's end needs them.
// In a data-parallel job every rank runs the same loop over the same global batches and takes its
// shard of each (distributed/shard); the engine averages gradients and sums metrics over ranks.
import { shardOf } from '../distributed/shard.js';
import type { DeviceData, Metrics, Model } from '../native/engine.js';
import type { Progress } from './progress.js';

/** Set by Ctrl-C: the running step finishes, then the loop stops. */
export interface StopFlag {
  requested: boolean;
}

/** Whether to stop now: in a job, true on every rank when any rank was asked to (one collective). */
export const stopAgreed = (model: Model, stop: StopFlag | undefined): boolean => model.anyRank(stop?.requested ?? false);

export interface PhaseResult extends Metrics {
  /** False when a stop was requested before the last batch. */
  completed: boolean;
  seconds: number;
}

export interface TrainResult extends PhaseResult {
  /** Batches of the epoch done, counting those before `startStep`. */
  stepsDone: number;
  /** Data-parallel on CPUs: of `seconds`, those this rank was blocked in collectives. */
  communicationSeconds?: number;
}

/** The trigger set appended to every training batch, as the original's train() does. */
export interface TriggerBatches {
  data: DeviceData;
  batchSize: number;
}

export interface TrainEpochOptions {
  data: DeviceData;
  batchSize: number;
  trigger?: TriggerBatches;
  /** Every random draw of the epoch (order, crops, flips, trigger order and start) comes from it. */
  seed: number;
  /** Resume an interrupted epoch at this batch (its order comes from the same seed). */
  startStep?: number;
  progress: Progress;
  stop?: StopFlag;
}

/** What each of an epoch's seeds is for (a key of deriveSeed), so that no two draws share one. */
export const EPOCH_DRAW = { order: 1, triggerOrder: 2, triggerStart: 3 } as const;

/** A 32-bit seed for one purpose of one epoch, from the run's seed (a murmur3-style mix). */
export function deriveSeed(seed: number, ...keys: number[]): number {
  let h = seed >>> 0;
  for (const k of keys) {
    h = Math.imul(h ^ (k >>> 0), 0x9e3779b1) >>> 0;
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca77) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

function accumulate(into: Metrics, model: Model): Metrics {
  const m = model.takeMetrics();
  into.lossSum += m.lossSum;
  into.steps += m.steps;
  into.correct += m.correct;
  into.total += m.total;
  return into;
}

const batchCount = (n: number, size: number): number => Math.ceil(n / size);
/** This rank's shard of global batch `index` (the whole batch when the model runs alone). */
const slice = (model: Model, data: DeviceData, index: number, size: number) => ({
  data,
  ...shardOf({ start: index * size, count: Math.min(size, data.size - index * size) }, model.membership),
});

/** One training epoch: shuffled, augmented batches; trigger batch (start + i) mod n appended to batch i. */
export async function trainEpoch(model: Model, opts: TrainEpochOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const { data, batchSize, trigger, seed, progress, stop } = opts;
  data.newEpoch(true, true, deriveSeed(seed, EPOCH_DRAW.order));
  // The original draws the trigger set once per epoch through a shuffling loader, unaugmented,
  // and starts at a random trigger batch (its `wm_idx`).
  trigger?.data.newEpoch(true, false, deriveSeed(seed, EPOCH_DRAW.triggerOrder));
  const steps = batchCount(data.size, batchSize);
  const triggerBatches = trigger ? batchCount(trigger.data.size, trigger.batchSize) : 0;
  const triggerStart = trigger ? deriveSeed(seed, EPOCH_DRAW.triggerStart) % triggerBatches : 0;
  const totals: Metrics = { lossSum: 0, steps: 0, correct: 0, total: 0 };
  model.takeCommunicationSeconds(); // from here: the epoch's steps only
  let done = opts.startStep ?? 0;
  for (let i = done; i < steps; i++) {
    const extra = trigger ? slice(model, trigger.data, (triggerStart + i) % triggerBatches, trigger.batchSize) : undefined;
    await model.trainStep(slice(model, data, i, batchSize), extra);
    done = i + 1;
    progress.step(done, steps, () => accumulate(totals, model));
    if (stopAgreed(model, stop)) break;
  }
  accumulate(totals, model);
  progress.end(totals);
  const communication = model.takeCommunicationSeconds();
  const result: TrainResult = { ...totals, completed: done === steps, stepsDone: done, seconds: (performance.now() - t0) / 1000 };
  return communication === null ? result : { ...result, communicationSeconds: communication };
}

export interface EvalResult extends PhaseResult {
  /** Per image in input order, with `keepOutputs`. */
  predictions?: Int32Array;
  logits?: Float32Array;
}

/** Eval mode, no gradients, in order, no augmentation. */
export async function evaluate(
  model: Model,
  data: DeviceData,
  batchSize: number,
  progress: Progress,
  keepOutputs = false,
): Promise<EvalResult> {
  const t0 = performance.now();
  if (keepOutputs && model.membership.worldSize > 1) throw new Error('a data-parallel evaluation keeps no per-image outputs');
  data.newEpoch(false, false);
  const steps = batchCount(data.size, batchSize);
  const totals: Metrics = { lossSum: 0, steps: 0, correct: 0, total: 0 };
  for (let i = 0; i < steps; i++) {
    await model.evalStep(slice(model, data, i, batchSize), keepOutputs);
    progress.step(i + 1, steps, () => accumulate(totals, model));
  }
  accumulate(totals, model);
  progress.end(totals);
  const result: EvalResult = { ...totals, completed: true, seconds: (performance.now() - t0) / 1000 };
  if (keepOutputs) {
    const out = model.takeOutputs();
    result.predictions = out.predictions;
    result.logits = out.logits.data;
  }
  return result;
}

/** The original's adjust_learning_rate: lr * 0.1 ** (epoch // lradj). */
export function scheduledLr(lr: number, epoch: number, lradj: number): number {
  return lr * 0.1 ** Math.floor(epoch / lradj);
}
