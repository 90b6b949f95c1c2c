// The attacks that rewrite the weights without training: global magnitude pruning and weight
// quantization, each a sweep of strengths started again from the original weights, the model
// restored afterwards.
import { MagnitudePruner } from '../prune.js';
import { WeightQuantizer } from '../quantize.js';
import { score, section, type AttackPoint, type AttackSection } from '../attack-points.js';
import type { AttackContext } from './context.js';

/** A weight rewrite that can be applied at a strength and undone. */
interface Rewrite {
  apply(strength: number): Record<string, number>;
  restore(): void;
}

async function sweep(
  ctx: AttackContext,
  strengths: readonly number[],
  rewrite: Rewrite,
  label: (x: number) => string,
): Promise<AttackPoint[]> {
  const points: AttackPoint[] = [];
  try {
    for (const x of strengths) {
      const details = rewrite.apply(x);
      points.push({ x, label: label(x), details, ...(await score(ctx.suspect, ctx.settings, label(x))) });
      ctx.checkStop();
    }
  } finally {
    rewrite.restore();
  }
  return points;
}

export async function pruning(ctx: AttackContext): Promise<AttackSection> {
  const pruner = new MagnitudePruner(ctx.s.model);
  const rewrite: Rewrite = {
    apply: (rate) => {
      const r = pruner.apply(rate / 100);
      return { zeroed: r.zeroed, total: r.total };
    },
    restore: () => pruner.restore(),
  };
  return section({
    id: 'prune',
    attack: 'prune',
    title: 'Pruning: smallest |w| set to zero',
    description:
      'Global unstructured magnitude pruning: the given share of all conv and linear weights with the smallest |w| ' +
      '(one threshold over the whole network) set to zero, BatchNorm and biases untouched, no fine-tuning.',
    axis: { name: 'pruning rate (share of conv and linear weights)', unit: '%' },
    budget: { training: 'none' },
    points: await sweep(ctx, ctx.plan.sweeps.prune, rewrite, (x) => `prune ${x}%`),
  });
}

export async function quantization(ctx: AttackContext): Promise<AttackSection> {
  const quantizer = new WeightQuantizer(ctx.s.model);
  const rewrite: Rewrite = {
    apply: (bits) => {
      const r = quantizer.apply(bits);
      return { tensors: r.tensors, maxDistinctValues: r.maxDistinct };
    },
    restore: () => quantizer.restore(),
  };
  return section({
    id: 'quantize',
    attack: 'quantize',
    title: 'Quantization: weights rounded to 2^bits levels',
    description:
      'Post-training weight quantization, per tensor, uniform (affine) over its range widened to include 0, as ' +
      "PyTorch's MinMaxObserver and fake_quantize_per_tensor_affine do; every conv and linear weight, biases and BatchNorm in float32.",
    axis: { name: 'bits per weight', unit: 'bits' },
    budget: { training: 'none' },
    points: await sweep(ctx, ctx.plan.sweeps.quantize, rewrite, (x) => `${x} bits`),
  });
}
