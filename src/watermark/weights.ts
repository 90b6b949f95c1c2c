// The weights a post-training attack rewrites (pruning, quantization): every conv and linear
// weight -- not BatchNorm, not biases, not buffers -- kept as they were loaded, so that every
// strength of a sweep starts again from the original model and the model is put back afterwards.
import type { Model } from '../native/engine.js';
import type { Tensor } from '../tensor.js';

/** Conv (4-D) and linear (2-D) weights; BatchNorm weights and every bias are 1-D. */
export function attackedWeights(model: Model): string[] {
  return model
    .tensors()
    .filter((t) => t.kind === 'parameter' && t.dtype === 'float32' && t.name.endsWith('.weight') && t.shape.length >= 2)
    .map((t) => t.name);
}

export class WeightSnapshot {
  readonly names: string[];
  readonly originals: Tensor<'float32'>[];

  constructor(private readonly model: Model) {
    this.names = attackedWeights(model);
    this.originals = this.names.map((n) => model.read(n) as Tensor<'float32'>);
  }

  /** Writes new values for weight `i` (same shape as the original). */
  write(i: number, data: Float32Array): void {
    this.model.write(this.names[i]!, { dtype: 'float32', shape: this.originals[i]!.shape, data });
  }

  /** Puts the original weights back. */
  restore(): void {
    for (const [i, name] of this.names.entries()) this.model.write(name, this.originals[i]!);
  }
}
