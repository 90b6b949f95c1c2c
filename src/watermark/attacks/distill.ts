// Distillation and model extraction: the attacker queries the suspect once on every image of a
// transfer set it has (its share of the training split, or another dataset) and trains a fresh
// student from scratch on the answers -- the suspect's soft labels at temperature T (distill,
// Hinton et al. 2015) or only its top-1 labels, as a black-box API gives them (extract, a
// Knockoff-style retraining). The student never sees the trigger set; the owner verifies it.
import type { ImageSet } from '../../data/dataset.js';
import { Model } from '../../native/engine.js';
import { deriveSeed, evaluate, scheduledLr } from '../../training/loop.js';
import { loadInto, saveModel } from '../../training/persist.js';
import { startProgress } from '../../training/progress.js';
import { runEpochs } from '../../training/run.js';
import { RunInterrupted } from '../../training/interrupted.js';
import { pointSummary, reportPoint, score, section, type AttackPoint, type AttackSection } from '../attack-points.js';
import { ATTACK_DRAW, share, type AttackContext } from './context.js';

/** The student's lr drops tenfold once, at half its epochs (train.py's step schedule with lradj = epochs / 2). */
export const studentLrAdj = (epochs: number): number => Math.max(1, Math.ceil(epochs / 2));

/**
 * The transfer set: the attacker's share of another dataset if it has one, else its share of the
 * training split; either way scaled by the suspect's Normalize, as the suspect's API would.
 */
function transferSet(ctx: AttackContext): { name: string; images: ImageSet } {
  const { plan, s } = ctx;
  if (!plan.transfer) return { name: 'training split', images: ctx.attackerData().set };
  const images = share(
    plan.transfer.images,
    plan.budget.attackerShare,
    deriveSeed(plan.seed, ATTACK_DRAW.attackerShare),
    "the attacker's share",
  );
  return { name: plan.transfer.name, images: { ...images, normalization: s.sets.test.normalization } };
}

/** The suspect's answers on the transfer set: logits (N x C) and top-1 labels. */
async function query(ctx: AttackContext, images: ImageSet): Promise<{ logits: Float32Array; labels: Int32Array }> {
  const { s, plan } = ctx;
  const data = s.model.upload(images);
  try {
    const r = await evaluate(s.model, data, plan.batchSize, startProgress({ mode: s.progressMode }), true);
    return { logits: r.logits!, labels: Int32Array.from(r.predictions!) };
  } finally {
    data.drop();
  }
}

export async function distillation(ctx: AttackContext, kind: 'distill' | 'extract'): Promise<AttackSection> {
  const { s, plan } = ctx;
  const { studentEpochs: epochs, studentLr, temperature } = plan.budget;
  const transfer = transferSet(ctx);
  // The suspect as its owner ships it: the checkpoint's weights, whatever an earlier attack did.
  loadInto(s.model, plan.checkpoint, { momentum: false });
  s.say(`[${kind}] querying the suspect on ${transfer.images.count} transfer images (${transfer.name})`);
  const answers = await query(ctx, transfer.images);
  const numClasses = s.model.numClasses;
  const student = new Model({
    numClasses,
    device: s.model.device,
    threads: s.model.threads,
    amp: s.model.amp,
    seed: deriveSeed(plan.seed, ATTACK_DRAW.student),
  });
  const train = student.upload({ images: transfer.images.images, labels: answers.labels, normalization: transfer.images.normalization });
  if (kind === 'distill') student.setSoftTargets(train, answers.logits, temperature);
  const trigger = s.sets.trigger;
  if (!trigger) throw new Error(`${kind} needs the trigger set`);
  const on = { model: student, test: student.upload(s.sets.test), trigger: student.upload(trigger) };
  const label = (line: string): string => `[${kind}] ${line.trim()}`;
  const points: AttackPoint[] = [{ x: 0, label: 'fresh student', ...(await score(on, ctx.settings, `${kind} fresh student`)) }];
  const lradj = studentLrAdj(epochs);
  const { reports, interrupted } = await runEpochs({
    ...on,
    train,
    batchSize: plan.batchSize,
    triggerEvalBatchSize: plan.batchSize,
    privateKey: false,
    lrAt: (epoch) => scheduledLr(studentLr, epoch, lradj),
    seed: deriveSeed(plan.seed, ATTACK_DRAW.student),
    firstEpoch: 0,
    epochs,
    startStep: 0,
    initialAcc: 0,
    say: (line) => s.say(label(line)),
    progressMode: s.progressMode,
    stop: s.stop,
  });
  if (interrupted) throw new RunInterrupted('no report written');
  for (const e of reports) {
    if (!e.test || !e.trigger) continue;
    const p = reportPoint(e.test, e.trigger, ctx.settings.classes, ctx.settings.alpha);
    points.push({
      x: e.epoch + 1,
      label: `epoch ${e.epoch + 1}`,
      details: { agreementWithSuspect: e.train.total > 0 ? (100 * e.train.correct) / e.train.total : 0 },
      ...p,
    });
    s.say(pointSummary(`${kind} epoch ${e.epoch + 1}`, p));
  }
  const savePath = ctx.savePath(kind);
  const last = reports.at(-1);
  if (savePath && last?.test && s.primary)
    saveModel(savePath, student, {
      acc: points.at(-1)!.test.accuracy,
      epoch: last.epoch,
      state: { seed: plan.seed, command: 'attack', attack: kind },
    });
  return section({
    id: kind,
    attack: kind,
    title:
      kind === 'distill'
        ? `Distillation: a fresh student on soft labels (T = ${temperature})`
        : 'Extraction: a fresh student on top-1 labels',
    description:
      kind === 'distill'
        ? `A freshly initialised ResNet-18 trained from scratch on the suspect's soft labels softmax(z / ${temperature}) of the transfer set ` +
          "(loss T^2 KL, Hinton et al. 2015; the suspect queried once per image, the student's batches augmented as in training)."
        : "A freshly initialised ResNet-18 trained from scratch with cross-entropy on the suspect's top-1 labels of the transfer set, all a " +
          'black-box API gives (model extraction, as Knockoff Nets retrain on queried labels).',
    axis: { name: 'student epoch (0: the fresh student)', unit: 'epochs' },
    budget: {
      epochs,
      lr: studentLr,
      lrDropsAtEpoch: lradj,
      transfer: transfer.name,
      transferImages: transfer.images.count,
      ...(kind === 'distill' ? { temperature } : {}),
      ...(plan.transfer ? {} : { attackerShare: plan.budget.attackerShare }),
    },
    points,
  });
}
