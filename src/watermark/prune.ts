// Magnitude pruning, the removal attack the paper's fine-tuning attacks are usually paired with:
// global unstructured pruning of every conv and linear weight (not BatchNorm, not biases) -- one
// threshold over |w| of all of them, the smallest set to zero. Each rate starts again from the
// original weights.
import type { Model } from '../native/engine.js';
import type { Tensor } from '../tensor.js';

/** Conv (4-D) and linear (2-D) weights; BatchNorm weights and every bias are 1-D. */
export function prunableWeights(model: Model): string[] {
  return model.tensors()
    .filter((t) => t.kind === 'parameter' && t.dtype === 'float32' && t.name.endsWith('.weight') && t.shape.length >= 2)
    .map((t) => t.name);
}

export interface PruneResult {
  rate: number;
  /** Weights set to zero (round(rate * total)). */
  zeroed: number;
  total: number;
  /** The largest |w| zeroed (0 when none). */
  threshold: number;
}

export class MagnitudePruner {
  readonly names: string[];
  private readonly originals: Tensor<'float32'>[];
  /** |w| of every prunable weight, ascending: the k-th smallest is the threshold for k zeros. */
  private readonly sorted: Float32Array;

  constructor(private readonly model: Model) {
    this.names = prunableWeights(model);
    this.originals = this.names.map((n) => model.read(n) as Tensor<'float32'>);
    const total = this.originals.reduce((s, t) => s + t.data.length, 0);
    this.sorted = new Float32Array(total);
    let at = 0;
    for (const t of this.originals) for (const v of t.data) this.sorted[at++] = Math.abs(v);
    this.sorted.sort();
  }

  get total(): number {
    return this.sorted.length;
  }

  /** Writes the original weights with the smallest `rate` share (0 <= rate < 1) set to zero. */
  apply(rate: number): PruneResult {
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`a pruning rate must be in [0, 1), got ${rate}`);
    const k = Math.round(rate * this.total);
    const threshold = k > 0 ? this.sorted[k - 1]! : 0;
    // Everything below the threshold goes; of the weights equal to it, only as many as make k.
    let below = 0;
    if (k > 0) for (const t of this.originals) for (const v of t.data) if (Math.abs(v) < threshold) below++;
    let ties = k - below;
    for (const [i, name] of this.names.entries()) {
      const src = this.originals[i]!.data;
      const data = new Float32Array(src);
      if (k > 0) {
        for (let j = 0; j < data.length; j++) {
          const a = Math.abs(data[j]!);
          if (a < threshold) data[j] = 0;
          else if (a === threshold && ties > 0) {
            data[j] = 0;
            ties--;
          }
        }
      }
      this.model.write(name, { dtype: 'float32', shape: this.originals[i]!.shape, data });
    }
    return { rate, zeroed: k, total: this.total, threshold };
  }

  /** Puts the original weights back. */
  restore(): void {
    for (const [i, name] of this.names.entries()) this.model.write(name, this.originals[i]!);
  }
}
