// Pillow 9's Image.resize(size, BILINEAR) for 8-bit RGB (Resample.c), which torchvision 0.14's
// Resize applies to PIL images: a separable convolution with a triangle filter widened by the
// scale when shrinking (antialiasing), coefficients in 22-bit fixed point, horizontal pass first.
import type { RgbImage } from './image.js';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;
const HALF = 2 ** (PRECISION_BITS - 1);
const BILINEAR_SUPPORT = 1;

function bilinear(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

interface Coefficients {
  /** Per output pixel: first input index and number of taps. */
  bounds: Int32Array;
  /** Per output pixel, `ksize` fixed-point weights. */
  weights: Int32Array;
  ksize: number;
}

/** precompute_coeffs + normalize_coeffs_8bpc, for the full input range. */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BILINEAR_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    k.fill(0);
    for (let x = 0; x < xmax; x++) {
      const w = bilinear((x + xmin - center + 0.5) / filterScale);
      k[x] = w;
      total += w;
    }
    for (let x = 0; x < ksize; x++) {
      const w = x < xmax && total !== 0 ? k[x]! / total : 0;
      // (int)(±0.5 + w * 2^22): C's truncating conversion.
      weights[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

function clip8(sum: number): number {
  const v = Math.floor(sum / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** One pass along x (horizontal) or y, over interleaved RGB. */
function pass(src: RgbImage, outWidth: number, outHeight: number, horizontal: boolean): RgbImage {
  const c = horizontal ? coefficients(src.width, outWidth) : coefficients(src.height, outHeight);
  const out = new Uint8Array(outWidth * outHeight * 3);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      const o = horizontal ? x : y;
      const first = c.bounds[o * 2]!;
      const taps = c.bounds[o * 2 + 1]!;
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let t = 0; t < taps; t++) {
        const w = c.weights[o * c.ksize + t]!;
        const s = horizontal ? (y * src.width + first + t) * 3 : ((first + t) * src.width + x) * 3;
        r += src.data[s]! * w;
        g += src.data[s + 1]! * w;
        b += src.data[s + 2]! * w;
      }
      const d = (y * outWidth + x) * 3;
      out[d] = clip8(r);
      out[d + 1] = clip8(g);
      out[d + 2] = clip8(b);
    }
  }
  return { width: outWidth, height: outHeight, data: out };
}

/** PIL's resize((width, height), Image.BILINEAR); a pass whose size does not change is skipped, as in Pillow. */
export function resizeBilinear(image: RgbImage, width: number, height: number): RgbImage {
  let out = image;
  if (width !== image.width) out = pass(out, width, image.height, true);
  if (height !== image.height) out = pass(out, width, height, false);
  return out === image ? { ...image, data: image.data.slice() } : out;
}
