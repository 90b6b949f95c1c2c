// Scoring many checkpoint files in one process (verify and predict over a folder). Each file is
// read on the JavaScript thread while the previous model is scored on libuv's pool, and one
// engine per class count takes every model of that count in turn, so memory does not grow with
// the number of files. Whatever goes wrong with one file (unreadable, hostile, the wrong shape)
// is that file's failed outcome; the run goes on.
import { readCheckpoint, type Checkpoint, type ReadOptions } from '../checkpoint/read.js';
import type { ImageSet } from '../data/dataset.js';
import type { Model } from '../native/engine.js';
import { PHASES, timed } from '../profile.js';
import { safeLine } from '../quote.js';
import { classesOf, loadInto } from './persist.js';

export type Outcome<R> =
  | { path: string; ok: true; classes: number; result: R; seconds: number }
  | { path: string; ok: false; classes: number | null; error: string; seconds: number };

export interface ManyModelsOptions<C, R> {
  read: ReadOptions;
  /** An engine for this class count (the CLI's engine flags), its weights to be loaded. */
  createModel: (numClasses: number) => Model;
  /** What a class count's engine needs once, such as the images uploaded to it. Throwing fails the model. */
  prepare: (model: Model) => C;
  /** Checks a model before an engine is taken for it (e.g. that the labels fit its classes). */
  accept?: (checkpoint: Checkpoint, classes: number) => void;
  /** Scores the model now in `model`. */
  score: (model: Model, context: C, path: string, checkpoint: Checkpoint) => Promise<R>;
  /** Each outcome, in the order of the paths, as soon as it is known. */
  onOutcome: (outcome: Outcome<R>, index: number) => void;
}

/**
 * Engines kept at once. Folders mix a few class counts (10 and 100); a folder of many counts
 * frees the least recently used engine rather than holding one per count.
 */
const MAX_ENGINES = 2;

/**
 * Throws, naming the image, when a label of `set` is not a class of a `numClasses`-class model:
 * a set read once for many models is checked against each model's class count.
 */
export function checkLabelsFit(set: ImageSet & { files?: readonly string[] }, numClasses: number, labelsFile: string): void {
  for (let i = 0; i < set.labels.length; i++) {
    const label = set.labels[i] as number;
    if (label >= numClasses) {
      const image = set.files?.[i] ?? `image ${i} of ${set.source}`;
      throw new Error(`${labelsFile}: label ${label} (for ${image}) is outside 0..${numClasses - 1} of this ${numClasses}-class model`);
    }
  }
}

/** An error as the one line a model's row shows. */
function lineOf(e: unknown): string {
  return safeLine(e instanceof Error ? e.message : String(e));
}

type Read = { ok: true; checkpoint: Checkpoint; classes: number } | { ok: false; error: string; classes: number | null };

export async function scoreMany<C, R>(paths: readonly string[], opts: ManyModelsOptions<C, R>): Promise<void> {
  const engines = new Map<number, { model: Model; context: C }>();
  const engineFor = (classes: number): { model: Model; context: C } => {
    const kept = engines.get(classes);
    if (kept) {
      engines.delete(classes); // re-inserted below: the Map's order is the use order
      engines.set(classes, kept);
      return kept;
    }
    if (engines.size >= MAX_ENGINES) {
      const [oldest, e] = engines.entries().next().value as [number, { model: Model; context: C }];
      engines.delete(oldest);
      e.model.release();
    }
    const model = opts.createModel(classes);
    try {
      const made = { model, context: opts.prepare(model) };
      engines.set(classes, made);
      return made;
    } catch (e) {
      model.release();
      throw e;
    }
  };

  const read = (path: string): Read => {
    let classes: number | null = null;
    try {
      const checkpoint = timed(PHASES.checkpointRead, () => readCheckpoint(path, opts.read));
      classes = classesOf(checkpoint);
      opts.accept?.(checkpoint, classes);
      return { ok: true, checkpoint, classes };
    } catch (e) {
      return { ok: false, error: lineOf(e), classes };
    }
  };

  // A model's seconds are its own work: its read, then its load and scoring (not the wait between).
  const finish = async (index: number, path: string, r: Read, readMs: number): Promise<void> => {
    const t0 = performance.now();
    const seconds = (): number => (readMs + performance.now() - t0) / 1000;
    if (!r.ok) {
      opts.onOutcome({ path, ok: false, classes: r.classes, error: r.error, seconds: seconds() }, index);
      return;
    }
    try {
      const { model, context } = timed(PHASES.modelBuild, () => {
        const e = engineFor(r.classes);
        loadInto(e.model, r.checkpoint, { momentum: false });
        return e;
      });
      const result = await opts.score(model, context, path, r.checkpoint);
      opts.onOutcome({ path, ok: true, classes: r.classes, result, seconds: seconds() }, index);
    } catch (e) {
      opts.onOutcome({ path, ok: false, classes: r.classes, error: lineOf(e), seconds: seconds() }, index);
    }
  };

  let previous: Promise<void> = Promise.resolve();
  try {
    for (const [index, path] of paths.entries()) {
      const t0 = performance.now();
      // The read runs while the previous model is still being scored on the pool.
      const r = read(path);
      const readMs = performance.now() - t0;
      await previous; // its engine is free again
      previous = finish(index, path, r, readMs);
    }
    await previous;
  } finally {
    for (const e of engines.values()) e.model.release();
  }
}
