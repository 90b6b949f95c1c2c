// The attacks that fine-tune the suspect through the one fine-tuning routine (training/fine-tune):
// the paper's FTLL/FTAL/RTLL/RTAL exactly as `wmnn fine-tune` runs them, label smoothing, and
// overwriting with the attacker's own trigger set; each point is one epoch.
import { decodeImage } from '../../data/decode.js';
import { IMAGE_BYTES, type ImageSet } from '../../data/dataset.js';
import { centerCropWindow, cropWindow, writePlanes } from '../../data/image.js';
import type { Normalization } from '../../data/normalization.js';
import { evaluate, deriveSeed } from '../../training/loop.js';
import { fineTune, type AttackMode, type FineTuneChange, type FineTuneOutcome } from '../../training/fine-tune.js';
import { phaseSummary } from '../../training/run.js';
import { startProgress } from '../../training/progress.js';
import { RunInterrupted } from '../../training/interrupted.js';
import {
  BEFORE_ATTACK,
  pointSummary,
  reportPoint,
  section,
  type AttackPoint,
  type AttackSection,
  type ReportPoint,
} from '../attack-points.js';
import { generateTriggerSet } from '../keygen.js';
import { ATTACK_DRAW, type AttackContext } from './context.js';

const MODE_TITLES: Record<AttackMode, string> = {
  FTLL: 'FTLL: fine-tune the last layer',
  FTAL: 'FTAL: fine-tune all layers',
  RTLL: 'RTLL: new last layer, train it only',
  RTAL: 'RTAL: new last layer, train all layers',
};

const MODE_DESCRIPTIONS: Record<AttackMode, string> = {
  FTLL: "Fine-tuning of the last layer only (Adi et al.), on the attacker's training images, without the trigger set.",
  FTAL: "Fine-tuning of every layer (Adi et al.), on the attacker's training images, without the trigger set.",
  RTLL: "A freshly initialised last layer, then only it is trained (Adi et al.); the trigger set is scored with the owner's last layer swapped back in, as fine-tune.py does.",
  RTAL: "A freshly initialised last layer, then every layer is trained (Adi et al.); the trigger set is scored with the owner's last layer swapped back in, as fine-tune.py does.",
};

export interface Tuning {
  id: string;
  mode: AttackMode;
  change?: FineTuneChange;
  /** Score the model before the first epoch (fine-prune scores the pruned model). */
  scoreFirst: boolean;
}

/** Runs one fine-tuning in the attacker's session; Ctrl-C ends the report. */
export async function tune(ctx: AttackContext, t: Tuning): Promise<FineTuneOutcome> {
  const { plan } = ctx;
  const savePath = ctx.savePath(t.id);
  const r = await fineTune(ctx.attackerSession(t.id), {
    checkpoint: plan.checkpoint,
    mode: t.mode,
    lr: plan.budget.lr,
    maxEpochs: plan.budget.epochs,
    batchSize: plan.batchSize,
    seed: plan.seed,
    resume: false,
    scoreFirst: t.scoreFirst,
    ...(savePath ? { savePath } : {}),
    command: 'attack',
    ...(t.change ? { change: t.change } : {}),
  });
  if (r.interrupted) throw new RunInterrupted('no report written');
  return r;
}

/** The points of a fine-tuning: epoch 0 (before the attack), then one per epoch. */
function epochPoints(ctx: AttackContext, id: string, r: FineTuneOutcome, first: ReportPoint): AttackPoint[] {
  const { classes, alpha } = ctx.settings;
  const points: AttackPoint[] = [{ x: 0, label: BEFORE_ATTACK, ...first }];
  for (const e of r.reports) {
    if (!e.test || !e.trigger) continue;
    // Report epochs count from the attack's start; fine-tune.py numbers them from the checkpoint's.
    const epoch = e.epoch - r.firstEpoch + 1;
    const p = reportPoint(e.test, e.trigger, classes, alpha);
    const attackerLayer = e.triggerAttackerLayer ? reportPoint(e.test, e.triggerAttackerLayer, classes, alpha) : undefined;
    points.push({ x: epoch, label: `epoch ${epoch}`, ...p, ...(attackerLayer ? { attackerLayer } : {}) });
    ctx.s.say(pointSummary(`${id} epoch ${epoch}`, p));
    if (attackerLayer) ctx.s.say(pointSummary(`${id} epoch ${epoch}, attacker's layer`, attackerLayer));
  }
  return points;
}

const epochAxis = { name: 'fine-tuning epoch (0: before the attack)', unit: 'epochs' };

function tuningBudget(ctx: AttackContext): Record<string, number | string> {
  const { budget } = ctx.plan;
  return { epochs: budget.epochs, lr: budget.lr, trainImages: ctx.attackerData().set.count, attackerShare: budget.attackerShare };
}

/** One of the paper's four attacks, as `wmnn fine-tune` runs it. */
export async function paperFineTuning(ctx: AttackContext, mode: AttackMode): Promise<AttackSection> {
  const r = await tune(ctx, { id: mode, mode, scoreFirst: false }); // the unattacked model was scored once, as `original`
  return section({
    id: mode,
    attack: mode,
    title: MODE_TITLES[mode],
    description: MODE_DESCRIPTIONS[mode],
    axis: epochAxis,
    budget: tuningBudget(ctx),
    points: epochPoints(ctx, mode, r, ctx.original),
  });
}

export async function labelSmoothing(ctx: AttackContext): Promise<AttackSection> {
  const eps = ctx.plan.budget.labelSmoothing;
  const r = await tune(ctx, { id: 'label-smoothing', mode: 'FTAL', change: { labelSmoothing: eps }, scoreFirst: false });
  return section({
    id: 'label-smoothing',
    attack: 'label-smoothing',
    title: `Label smoothing: FTAL with eps ${eps}`,
    description: `Fine-tuning of every layer on the attacker's training images with label-smoothed cross-entropy (targets 1 - eps + eps/C on the label, eps/C elsewhere), which flattens the memorised trigger responses.`,
    axis: epochAxis,
    budget: { ...tuningBudget(ctx), labelSmoothing: eps },
    points: epochPoints(ctx, 'label-smoothing', r, ctx.original),
  });
}

/** keygen's images (PNG bytes) as the trigger-set loader would read them, scaled like the owner's trigger set. */
async function asImageSet(items: { bytes: Uint8Array; label: number }[], classes: number, normalization: Normalization): Promise<ImageSet> {
  const images = new Uint8Array(items.length * IMAGE_BYTES);
  const labels = new Int32Array(items.length);
  for (const [i, item] of items.entries()) {
    const image = await decodeImage(item.bytes);
    writePlanes(cropWindow(image, { left: 0, top: 0 }, centerCropWindow(image.width, image.height)), images, i * IMAGE_BYTES);
    labels[i] = item.label;
  }
  return { images, labels, count: items.length, numClasses: classes, source: "the attacker's keygen set", normalization };
}

export async function overwrite(ctx: AttackContext): Promise<AttackSection> {
  const { s, plan } = ctx;
  const { overwriteSize, overwriteBatch } = plan.budget;
  // The attacker's own KeyGen (abstract images, random labels), reproducible from the report's seed.
  const key = await generateTriggerSet({
    kind: 'abstract',
    size: overwriteSize,
    classes: s.model.numClasses,
    seed: deriveSeed(plan.seed, ATTACK_DRAW.overwriteKey),
  });
  const own = s.model.upload(await asImageSet(key.items, s.model.numClasses, s.sets.test.normalization));
  try {
    const r = await tune(ctx, {
      id: 'overwrite',
      mode: 'FTAL',
      change: { append: { data: own, batchSize: overwriteBatch } },
      scoreFirst: false,
    });
    const points = epochPoints(ctx, 'overwrite', r, ctx.original);
    const mark = await evaluate(s.model, own, plan.batchSize, startProgress({ mode: s.progressMode }));
    const last = points[points.length - 1]!;
    last.details = {
      attackerTriggerAccuracy: phaseSummary(mark).accuracy,
      attackerTriggerCorrect: mark.correct,
      attackerTriggerImages: mark.total,
    };
    s.say(`[overwrite] the attacker's own mark: ${mark.correct}/${mark.total} of its trigger images`);
    return section({
      id: 'overwrite',
      attack: 'overwrite',
      title: "Overwrite: FTAL with the attacker's own mark",
      description:
        `The attacker runs keygen for a trigger set of its own (${overwriteSize} abstract images, random labels) and fine-tunes every layer on its ` +
        `training images with ${overwriteBatch} of them appended to every batch, as train --wmtrain marks; the owner then verifies the original mark. ` +
        "The last point's details give the attacker's own trigger accuracy.",
      axis: epochAxis,
      budget: { ...tuningBudget(ctx), overwriteSize, overwriteBatch },
      points,
    });
  } finally {
    own.drop();
  }
}
