// Post-training weight quantization, a removal attack that costs the attacker nothing but
// precision: every conv and linear weight tensor is rounded to 2^bits levels, per tensor, the way
// PyTorch's MinMaxObserver + fake_quantize_per_tensor_affine do it (affine, the range widened to
// include 0 so that zero weights stay exactly zero). Biases and BatchNorm stay float32, as in
// PyTorch's own quantized models. Every float32 operation is rounded as float32 (Math.fround), in
// PyTorch's order, so that the levels agree with PyTorch's to the last bit.
import type { Model } from '../native/engine.js';
import { roundHalfEven } from '../data/pyround.js';
import { WeightSnapshot } from './weights.js';

/** Quantization widths the attack accepts: 1 bit is 2 levels; 16 bits is already near float32. */
export const MIN_BITS = 1;
export const MAX_BITS = 16;
const F32_EPS = 2 ** -23; // torch.finfo(torch.float32).eps, MinMaxObserver's smallest scale

export interface QuantParams {
  scale: number;
  zeroPoint: number;
  quantMin: number;
  quantMax: number;
}

/** MinMaxObserver(quant_min=0, quant_max=2^bits-1, qscheme=per_tensor_affine).calculate_qparams(). */
export function quantParams(data: Float32Array, bits: number): QuantParams {
  if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS)
    throw new RangeError(`bits must be an integer ${MIN_BITS}..${MAX_BITS}, got ${bits}`);
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const quantMin = 0;
  const quantMax = 2 ** bits - 1;
  const minNeg = Math.min(min, 0);
  const maxPos = Math.max(max, 0);
  const scale = Math.max(Math.fround(Math.fround(maxPos - minNeg) / (quantMax - quantMin)), Math.fround(F32_EPS));
  const zeroPoint = Math.min(quantMax, Math.max(quantMin, quantMin - roundHalfEven(Math.fround(minNeg / scale))));
  return { scale, zeroPoint, quantMin, quantMax };
}

/** fake_quantize_per_tensor_affine: x -> (clamp(zp + round(x / scale)) - zp) * scale, in float32. */
export function fakeQuantize(data: Float32Array, q: QuantParams): Float32Array {
  const inv = Math.fround(1 / q.scale);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const level = Math.min(q.quantMax, Math.max(q.quantMin, q.zeroPoint + roundHalfEven(Math.fround(data[i]! * inv))));
    out[i] = (level - q.zeroPoint) * q.scale; // the Float32Array store rounds as float32 does
  }
  return out;
}

export interface QuantizeResult {
  bits: number;
  tensors: number;
  /** The most distinct values any one tensor has after quantization (at most 2^bits). */
  maxDistinct: number;
}

export class WeightQuantizer {
  private readonly weights: WeightSnapshot;

  constructor(model: Model) {
    this.weights = new WeightSnapshot(model);
  }

  /** Writes the original weights quantized to `bits`. */
  apply(bits: number): QuantizeResult {
    let maxDistinct = 0;
    for (const [i, original] of this.weights.originals.entries()) {
      const q = fakeQuantize(original.data, quantParams(original.data, bits));
      maxDistinct = Math.max(maxDistinct, new Set(q).size);
      this.weights.write(i, q);
    }
    return { bits, tensors: this.weights.names.length, maxDistinct };
  }

  restore(): void {
    this.weights.restore();
  }
}
