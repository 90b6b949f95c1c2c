// What every attack runs in: the session (the suspect model and the sets on its device), the plan,
// the unattacked model's scores, the attacker's share of the training data, and where to save.
import { join } from 'node:path';
import { IMAGE_BYTES, type ImageSet } from '../../data/dataset.js';
import { Rng } from '../../data/prng.js';
import type { DeviceData } from '../../native/engine.js';
import { deriveSeed, stopAgreed } from '../../training/loop.js';
import { RunInterrupted } from '../../training/interrupted.js';
import { trainingData, type Session } from '../../training/session.js';
import type { AttackPlan } from '../attack-plan.js';
import type { ReportPoint, Scored, ScoreSettings } from '../attack-points.js';

/** Seed purposes of the attacks' own draws (keys of deriveSeed), so that no two share one. */
export const ATTACK_DRAW = { attackerShare: 0x21, student: 0x22, overwriteKey: 0x23, inputNoise: 0x24 } as const;

export interface AttackContext {
  s: Session;
  plan: AttackPlan;
  /** The unattacked model's point. */
  original: ReportPoint;
  settings: ScoreSettings;
  /** The suspect model on the session's test and trigger sets. */
  suspect: Scored;
  /** The attacker's training images: its share of the training split (the whole split by default). */
  attackerData(): { set: ImageSet; data: DeviceData };
  /** The session with the attacker's training images as its training split (what fineTune reads). */
  attackerSession(label: string): Session;
  /** Where a trained model of this section is saved, if models are kept. */
  savePath(id: string): string | undefined;
  /** Throws RunInterrupted once Ctrl-C was pressed. */
  checkStop(): void;
}

/** `count` images of `set` at `indices` (ascending), as a new set. */
export function subset(set: ImageSet, indices: readonly number[], source: string): ImageSet {
  const images = new Uint8Array(indices.length * IMAGE_BYTES);
  const labels = new Int32Array(indices.length);
  for (const [j, i] of indices.entries()) {
    images.set(set.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), j * IMAGE_BYTES);
    labels[j] = set.labels[i]!;
  }
  return { images, labels, count: indices.length, numClasses: set.numClasses, source, normalization: set.normalization };
}

/** A uniformly drawn share of a set (at least one image), in the set's order; share 1 is the set itself. */
export function share(set: ImageSet, fraction: number, seed: number, whose = "the attacker's share"): ImageSet {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`the attacker's share must be in (0, 1], got ${fraction}`);
  if (fraction === 1) return set;
  const order = Array.from({ length: set.count }, (_, i) => i);
  const rng = new Rng(seed);
  const n = Math.max(1, Math.round(fraction * set.count));
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(set.count - i); // a partial Fisher-Yates shuffle
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return subset(
    set,
    order.slice(0, n).sort((a, b) => a - b),
    `${set.source} (${n} of ${set.count}, ${whose})`,
  );
}

export function attackContext(s: Session, plan: AttackPlan, original: ReportPoint, settings: ScoreSettings): AttackContext {
  if (!s.trigger) throw new Error('an attack report needs the trigger set');
  const suspect: Scored = { model: s.model, test: s.test, trigger: s.trigger };
  let attacker: { set: ImageSet; data: DeviceData } | undefined;
  const attackerData = (): { set: ImageSet; data: DeviceData } => {
    if (attacker) return attacker;
    const full = s.sets.train;
    if (!full) throw new Error('this attack needs the training split, which the session did not read');
    const set = share(full, plan.budget.attackerShare, deriveSeed(plan.seed, ATTACK_DRAW.attackerShare));
    attacker = { set, data: set === full ? trainingData(s) : s.model.upload(set) };
    return attacker;
  };
  return {
    s,
    plan,
    original,
    settings,
    suspect,
    attackerData,
    attackerSession: (label) => ({ ...s, train: attackerData().data, say: (line) => s.say(`[${label}] ${line.trim()}`) }),
    savePath: (id) => (plan.saveModelsTo ? join(plan.saveModelsTo, `${id.toLowerCase()}.t7`) : undefined),
    checkStop: () => {
      if (stopAgreed(s.model, s.stop)) throw new RunInterrupted('no report written');
    },
  };
}
