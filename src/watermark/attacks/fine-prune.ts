// Fine-pruning (Liu et al., RAID 2018): the channels of the last convolutional stage least active
// on clean data are cut, then the pruned network is fine-tuned with them held at zero. In this
// ResNet the stage's output reaches the classifier only through the average pool and `linear`, so
// a channel is cut by zeroing its column of linear.weight, masked through every fine-tuning step.
import type { Tensor } from '../../tensor.js';
import { loadInto } from '../../training/persist.js';
import { pointSummary, reportPoint, section, type AttackPoint, type AttackSection } from '../attack-points.js';
import type { AttackContext } from './context.js';
import { tune } from './fine-tuning.js';

/** The channels in the order they are pruned: least mean |activation| on clean images first (ties: lower index). */
export function pruningOrder(meanAbs: Float32Array): number[] {
  return Array.from(meanAbs.keys()).sort((a, b) => meanAbs[a]! - meanAbs[b]! || a - b);
}

/** linear.weight's mask with the columns of `channels` zeroed. */
export function channelMask(shape: readonly number[], channels: readonly number[]): Tensor<'float32'> {
  const [classes, width] = shape as [number, number];
  const data = new Float32Array(classes * width).fill(1);
  for (const c of channels) for (let k = 0; k < classes; k++) data[k * width + c] = 0;
  return { dtype: 'float32', shape: [classes, width], data };
}

export async function finePruning(ctx: AttackContext): Promise<AttackSection> {
  const { s, plan } = ctx;
  loadInto(s.model, plan.checkpoint, { momentum: false });
  const clean = ctx.attackerData();
  const { meanAbs } = await s.model.channelMeans(clean.data, plan.batchSize);
  const order = pruningOrder(meanAbs);
  const shape = s.model.tensors().find((t) => t.name === 'linear.weight')!.shape;
  const points: AttackPoint[] = [];
  for (const ratio of plan.sweeps.finePrune) {
    const k = Math.round((ratio / 100) * order.length);
    const id = `fine-prune-${ratio}`;
    const r = await tune(ctx, {
      id,
      mode: 'FTAL',
      change: { masks: [['linear.weight', channelMask(shape, order.slice(0, k))]] },
      scoreFirst: true,
    });
    const pruned = reportPoint(r.initial!.test, r.initial!.trigger, ctx.settings.classes, ctx.settings.alpha);
    const last = r.reports.at(-1);
    const tuned = last?.test && last.trigger ? reportPoint(last.test, last.trigger, ctx.settings.classes, ctx.settings.alpha) : pruned;
    s.say(pointSummary(`fine-prune ${ratio}%: pruned`, pruned));
    s.say(pointSummary(`fine-prune ${ratio}%: pruned and tuned ${r.reports.length} epochs`, tuned));
    points.push({
      x: ratio,
      label: `${ratio}% of channels`,
      before: pruned,
      details: { channelsPruned: k, channels: order.length },
      ...tuned,
    });
  }
  return section({
    id: 'fine-prune',
    attack: 'fine-prune',
    title: 'Fine-pruning: least active channels cut, then FTAL',
    description:
      'Liu et al. (RAID 2018): the channels of the last convolutional stage (layer4) with the smallest mean |activation| on the ' +
      "attacker's clean training images are cut (their column of linear.weight zeroed and held at zero), then every layer is fine-tuned. " +
      'Each point is the model after fine-tuning; `before` is the pruned model before it.',
    axis: { name: "share of the last stage's channels pruned", unit: '%' },
    budget: {
      epochs: plan.budget.epochs,
      lr: plan.budget.lr,
      trainImages: clean.set.count,
      attackerShare: plan.budget.attackerShare,
      rankedOn: 'mean |activation| on the training images',
    },
    points,
  });
}
