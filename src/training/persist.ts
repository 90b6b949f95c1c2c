// Between the engine and the checkpoint format: a model's named tensors into the original's
// `.t7` (plus wmnn's resume state) and back. The only module that knows both sides.
import { basename } from 'node:path';
import { checkFits, type Checkpoint } from '../checkpoint/read.js';
import { writeCheckpoint } from '../checkpoint/write.js';
import type { WmnnScalar } from '../checkpoint/wmnn-extra.js';
import type { Model } from '../native/engine.js';
import type { Tensor } from '../tensor.js';

export interface SaveMeta {
  /** Test accuracy in percent (the original's `acc`). */
  acc: number;
  /** The epoch just finished (the original's `epoch`). */
  epoch: number;
  /** wmnn's own scalars needed to resume exactly (seed, interrupted step, ...). */
  state: Record<string, WmnnScalar>;
  /** Other named tensors to keep (fine-tune's private key). */
  tensors?: [string, Tensor][];
}

/** Writes `{'net', 'acc', 'epoch', 'wmnn'}` atomically, with the momentum buffers for --resume. */
export function saveModel(path: string, model: Model, meta: SaveMeta): void {
  const infos = model.tensors();
  const momentum: [string, Tensor][] = [];
  for (const info of infos) {
    if (info.kind !== 'parameter') continue;
    const m = model.readMomentum(info.name);
    if (m) momentum.push([info.name, m]);
  }
  writeCheckpoint(path, {
    tensors: model.stateDict(),
    requiresGrad: new Map(infos.filter((i) => i.kind === 'parameter').map((i) => [i.name, i.requiresGrad])),
    training: false, // the original saves right after test(), which calls net.eval()
    numClasses: model.numClasses,
    acc: meta.acc,
    epoch: meta.epoch,
    extra: {
      ...(momentum.length > 0 ? { momentum } : {}),
      ...(meta.tensors && meta.tensors.length > 0 ? { tensors: meta.tensors } : {}),
      state: meta.state,
    },
  });
}

/** The class count a checkpoint's `linear` layer was built for. */
export function classesOf(ckpt: Checkpoint): number {
  const w = ckpt.tensors.get('linear.weight');
  if (!w || w.shape.length !== 2) throw new Error(`${basename(ckpt.file)}: no linear.weight of shape (classes, 512)`);
  return w.shape[0] as number;
}

/**
 * Copies a checkpoint's tensors into `model` after checking that every name, shape and dtype fits
 * (a 100-class file for a 10-class run is refused, naming the mismatches); with `momentum`, also
 * the SGD momentum that wmnn saved.
 */
export function loadInto(model: Model, ckpt: Checkpoint, opts: { momentum: boolean }): void {
  checkFits(ckpt.tensors, model.tensors(), basename(ckpt.file));
  for (const [name, t] of ckpt.tensors) model.write(name, t);
  model.clearMomentum();
  if (opts.momentum) for (const [name, m] of ckpt.wmnn?.momentum ?? []) model.writeMomentum(name, m);
}

/** The state that marks a checkpoint written mid-epoch (read back by resumePoint). */
export function cutState(cut: { epoch: number; nextStep: number } | undefined): Record<string, number> {
  return cut ? { partial_epoch: cut.epoch, next_step: cut.nextStep } : {};
}

/** Where a run saved by wmnn continues: inside the epoch a Ctrl-C cut, else after the saved one. */
export function resumePoint(ckpt: Checkpoint): { epoch: number; step: number } {
  const s = ckpt.wmnn?.state;
  if (typeof s?.partial_epoch === 'number' && typeof s.next_step === 'number') return { epoch: s.partial_epoch, step: s.next_step };
  return { epoch: (ckpt.epoch ?? -1) + 1, step: 0 };
}

/** The seed a wmnn run recorded in its checkpoint, if any. */
export function recordedSeed(ckpt: Checkpoint | undefined): number | undefined {
  const seed = ckpt?.wmnn?.state?.seed;
  return typeof seed === 'number' ? seed : undefined;
}
