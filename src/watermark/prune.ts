// Magnitude pruning, the removal attack the paper's fine-tuning attacks are usually paired with:
// global unstructured pruning of every conv and linear weight (not BatchNorm, not biases) -- one
// threshold over |w| of all of them, the smallest set to zero. Each rate starts again from the
// original weights.
import type { Model } from '../native/engine.js';
import { WeightSnapshot } from './weights.js';

export interface PruneResult {
  rate: number;
  /** Weights set to zero (round(rate * total)). */
  zeroed: number;
  total: number;
  /** The largest |w| zeroed (0 when none). */
  threshold: number;
}

export class MagnitudePruner {
  private readonly weights: WeightSnapshot;
  /** |w| of every prunable weight, ascending: the k-th smallest is the threshold for k zeros. */
  private readonly sorted: Float32Array;

  constructor(model: Model) {
    this.weights = new WeightSnapshot(model);
    const total = this.weights.originals.reduce((s, t) => s + t.data.length, 0);
    this.sorted = new Float32Array(total);
    let at = 0;
    for (const t of this.weights.originals) for (const v of t.data) this.sorted[at++] = Math.abs(v);
    this.sorted.sort();
  }

  get names(): string[] {
    return this.weights.names;
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
    if (k > 0) for (const t of this.weights.originals) for (const v of t.data) if (Math.abs(v) < threshold) below++;
    let ties = k - below;
    for (const [i, original] of this.weights.originals.entries()) {
      const data = new Float32Array(original.data);
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
      this.weights.write(i, data);
    }
    return { rate, zeroed: k, total: this.total, threshold };
  }

  /** Puts the original weights back. */
  restore(): void {
    this.weights.restore();
  }
}
