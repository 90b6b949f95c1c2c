// The paper's fine-tuning attacks, as fine-tune.py runs them: keep the loaded `linear` layer as
// the owner's private key, give RTLL/RTAL a fresh one, freeze everything but `linear` for
// FTLL/RTLL, score the trigger set and the test set, then train at constant lr without the
// trigger set, scoring the trigger set with the private key after every epoch. `wmnn fine-tune`
// and `wmnn attack` both run this routine, so the same seed gives them the same model.
import type { Checkpoint } from '../checkpoint/read.js';
import type { DeviceData, Model } from '../native/engine.js';
import type { Tensor } from '../tensor.js';
import { deriveSeed, type EvalResult } from './loop.js';
import { cutState, loadInto, resumePoint } from './persist.js';
import { evaluateLogged, runEpochs, type EpochReport } from './run.js';
import { trainingData, type Session } from './session.js';

/** The four removal attacks of the paper (fine-tune.py's flag combinations). */
export type AttackMode = 'FTLL' | 'FTAL' | 'RTLL' | 'RTAL';
export const ATTACK_MODES: readonly AttackMode[] = ['FTLL', 'FTAL', 'RTLL', 'RTAL'];

export function attackMode(tuneAllLayers: boolean, reinitLastLayer: boolean): AttackMode {
  return `${reinitLastLayer ? 'RT' : 'FT'}${tuneAllLayers ? 'AL' : 'LL'}` as AttackMode;
}

const reinitializes = (mode: AttackMode): boolean => mode.startsWith('RT');
const tunesLastLayerOnly = (mode: AttackMode): boolean => mode.endsWith('LL');

/** Seed purpose: the fresh `linear` layer of RTLL/RTAL, drawn from the run's seed. */
const REINIT_LINEAR = 0x11;

/** Where fine-tune keeps the owner's private key in its checkpoint, for resuming RTLL/RTAL. */
const PRIVATE_KEY = { weight: 'private_key.weight', bias: 'private_key.bias' } as const;

/**
 * Sets a loaded model up for an attack: keeps its last layer as the owner's private key, gives
 * RTLL/RTAL a freshly initialised one, and freezes everything but `linear` for FTLL/RTLL.
 */
export function prepareAttack(model: Model, mode: AttackMode, seed: number): void {
  model.stashLinear();
  if (reinitializes(mode)) model.reinitLinear(deriveSeed(seed, REINIT_LINEAR));
  model.trainOnlyLinear(tunesLastLayerOnly(mode));
}

/** The stashed private key, read by swapping it in and back out. */
function privateKeyTensors(model: Model): [string, Tensor][] {
  model.swapLinear();
  const key: [string, Tensor][] = [
    [PRIVATE_KEY.weight, model.read('linear.weight')],
    [PRIVATE_KEY.bias, model.read('linear.bias')],
  ];
  model.swapLinear();
  return key;
}

/** prepareAttack for a resumed run: the private key comes back from the checkpoint, not from `linear`. */
function restoreAttack(model: Model, mode: AttackMode, ckpt: Checkpoint): void {
  model.trainOnlyLinear(tunesLastLayerOnly(mode));
  if (!reinitializes(mode)) {
    model.stashLinear(); // in FTLL/FTAL the private key is the very layer being tuned
    return;
  }
  const saved = new Map(ckpt.wmnn?.tensors ?? []);
  const w = saved.get(PRIVATE_KEY.weight);
  const b = saved.get(PRIVATE_KEY.bias);
  if (!w || !b) throw new Error(`${ckpt.file}: no private key saved in this checkpoint; it cannot resume an RTLL/RTAL run`);
  const trained: [Tensor, Tensor] = [model.read('linear.weight'), model.read('linear.bias')];
  model.write('linear.weight', w);
  model.write('linear.bias', b);
  model.stashLinear();
  model.write('linear.weight', trained[0]);
  model.write('linear.bias', trained[1]);
}

export interface FineTunePlan {
  /** The watermarked model (or, resuming, the interrupted fine-tuning's own checkpoint). */
  checkpoint: Checkpoint;
  mode: AttackMode;
  lr: number;
  maxEpochs: number;
  batchSize: number;
  /** Every draw of the attack (the fresh layer, batch orders, crops) comes from it. */
  seed: number;
  /** Continue an interrupted fine-tuning from `checkpoint` (momentum, private key, epoch and step). */
  resume: boolean;
  /** Score the trigger and test sets before the first epoch (fine-tune.py's step 4). */
  scoreFirst: boolean;
  /** Save after every epoch here, as fine-tune.py does; absent: nothing is saved (attack reports). */
  savePath?: string;
  /** The `command` recorded in a saved checkpoint's state. */
  command: string;
  /** What a removal attack changes in the fine-tuning (wmnn attack); absent: fine-tune.py's. */
  change?: FineTuneChange;
}

export interface FineTuneChange {
  /** Cross-entropy with label smoothing (the label-smoothing attack). */
  labelSmoothing?: number;
  /** Parameters held at zero where their mask is 0 (fine-pruning's pruned channels). */
  masks?: readonly (readonly [string, Tensor<'float32'>])[];
  /** Images appended to every batch (the overwrite attack: the attacker's own trigger set). */
  append?: { data: DeviceData; batchSize: number };
}

/** Applies a change to the loaded, prepared model; returns what undoes it. */
function applyChange(model: Model, change: FineTuneChange | undefined): () => void {
  if (!change) return () => {};
  if (change.labelSmoothing) model.setLabelSmoothing(change.labelSmoothing);
  for (const [name, mask] of change.masks ?? []) model.setMask(name, mask);
  return () => {
    model.setLabelSmoothing(0);
    model.clearMasks();
  };
}

export interface FineTuneOutcome {
  /** Before the first epoch (with `scoreFirst`). */
  initial?: { trigger: EvalResult; test: EvalResult };
  reports: EpochReport[];
  interrupted: boolean;
  /** The epoch number of the first epoch (fine-tune.py numbers them from the checkpoint's). */
  firstEpoch: number;
}

/** Runs one fine-tuning attack in `session`, whose trigger set is required. */
export async function fineTune(session: Session, plan: FineTunePlan): Promise<FineTuneOutcome> {
  const { model, trigger } = session;
  const train = trainingData(session);
  if (!trigger) throw new Error('fine-tuning needs the trigger set');
  const { checkpoint: ckpt, mode } = plan;
  // Every attack starts again from the checkpoint (attack runs several in one session).
  loadInto(model, ckpt, { momentum: plan.resume });
  if (plan.resume) restoreAttack(model, mode, ckpt);
  else prepareAttack(model, mode, plan.seed);
  const undo = applyChange(model, plan.change);
  try {
    return await tune(session, plan, { train, trigger });
  } finally {
    undo();
  }
}

async function tune(session: Session, plan: FineTunePlan, sets: { train: DeviceData; trigger: DeviceData }): Promise<FineTuneOutcome> {
  const { model } = session;
  const { train, trigger } = sets;
  const { checkpoint: ckpt, mode } = plan;

  let initial: FineTuneOutcome['initial'];
  if (plan.scoreFirst && !plan.resume) {
    const t = await evaluateLogged(model, trigger, plan.batchSize, 'WM acc:', session);
    initial = { trigger: t, test: await evaluateLogged(model, session.test, plan.batchSize, 'Test acc:', session) };
  }
  const { epoch: firstEpoch, step: startStep } = plan.resume ? resumePoint(ckpt) : { epoch: ckpt.epoch ?? 0, step: 0 };
  // A resumed fine-tuning ends where the interrupted one planned to.
  const plannedLast = ckpt.wmnn?.state?.last_epoch;
  const lastEpoch = plan.resume && typeof plannedLast === 'number' ? plannedLast : firstEpoch + plan.maxEpochs - 1;
  const { savePath } = plan;

  const { reports, interrupted } = await runEpochs({
    ...session,
    train,
    trigger,
    batchSize: plan.batchSize,
    triggerEvalBatchSize: plan.batchSize,
    privateKey: reinitializes(mode),
    ...(plan.change?.append ? { triggerAppend: plan.change.append.batchSize, appendFrom: plan.change.append.data } : {}),
    lrAt: () => plan.lr,
    seed: plan.seed,
    firstEpoch,
    epochs: Math.max(0, lastEpoch - firstEpoch + 1),
    startStep,
    initialAcc: ckpt.acc?.value ?? 0,
    ...(savePath
      ? {
          save: (epoch: number, acc: number, cut?: { epoch: number; nextStep: number }) =>
            session.saveModel(savePath, {
              acc,
              epoch,
              state: { seed: plan.seed, command: plan.command, mode, last_epoch: lastEpoch, ...cutState(cut) },
              tensors: reinitializes(mode) ? privateKeyTensors(model) : [],
            }),
        }
      : {}),
  });
  return { ...(initial ? { initial } : {}), reports, interrupted, firstEpoch };
}
