// The query-time input attack: the suspect's owner never sees the raw trigger images, only what
// the attacker's API passes on, so the API preprocesses every input -- a JPEG round trip, added
// Gaussian noise, or a median filter -- on the uint8 images, before the model's own normalisation.
import { IMAGE_BYTES, IMAGE_SIZE, type ImageSet } from '../data/dataset.js';
import { decodeJpegSync, encodeJpeg } from '../data/jpeg.js';
import { Rng } from '../data/prng.js';

export type InputTransform =
  /** PIL's JPEG at this quality (1..100), decoded as PIL decodes it. */
  | { kind: 'jpeg'; quality: number }
  /** N(0, std^2) per pixel and channel, std in pixel levels (0..255), rounded and clipped; drawn from `seed`. */
  | { kind: 'noise'; std: number; seed: number }
  /** The median of each size x size window per channel (odd size), edges replicated as PIL's MedianFilter does. */
  | { kind: 'median'; size: number };

const PLANE = IMAGE_SIZE * IMAGE_SIZE;

function interleaved(images: Uint8Array, at: number): Uint8Array {
  const rgb = new Uint8Array(PLANE * 3);
  for (let p = 0; p < PLANE; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = images[at + c * PLANE + p]!;
  return rgb;
}

function jpegRoundTrip(src: Uint8Array, out: Uint8Array, at: number, quality: number): void {
  const decoded = decodeJpegSync(encodeJpeg(interleaved(src, at), IMAGE_SIZE, IMAGE_SIZE, quality));
  for (let p = 0; p < PLANE; p++) for (let c = 0; c < 3; c++) out[at + c * PLANE + p] = decoded.data[p * 3 + c]!;
}

function medianFilter(src: Uint8Array, out: Uint8Array, at: number, size: number): void {
  const r = (size - 1) / 2;
  const window = new Uint8Array(size * size);
  const mid = (size * size - 1) / 2;
  const clamp = (v: number): number => Math.max(0, Math.min(IMAGE_SIZE - 1, v));
  for (let c = 0; c < 3; c++) {
    const base = at + c * PLANE;
    for (let y = 0; y < IMAGE_SIZE; y++) {
      for (let x = 0; x < IMAGE_SIZE; x++) {
        let n = 0;
        for (let dy = -r; dy <= r; dy++)
          for (let dx = -r; dx <= r; dx++) window[n++] = src[base + clamp(y + dy) * IMAGE_SIZE + clamp(x + dx)]!;
        window.sort();
        out[base + y * IMAGE_SIZE + x] = window[mid]!;
      }
    }
  }
}

export function checkTransform(t: InputTransform): void {
  if (t.kind === 'jpeg' && !(Number.isInteger(t.quality) && t.quality >= 1 && t.quality <= 100)) {
    throw new RangeError(`a JPEG quality is an integer 1..100, got ${t.quality}`);
  }
  if (t.kind === 'noise' && !(t.std >= 0 && t.std <= 255)) throw new RangeError(`a noise std is in 0..255 pixel levels, got ${t.std}`);
  if (t.kind === 'median' && !(Number.isInteger(t.size) && t.size >= 1 && t.size % 2 === 1 && t.size <= IMAGE_SIZE)) {
    throw new RangeError(`a median filter size is an odd integer 1..${IMAGE_SIZE}, got ${t.size}`);
  }
}

/** The set as the attacker's API passes it on: every image transformed, labels unchanged. */
export function transformImages(set: ImageSet, t: InputTransform): ImageSet {
  checkTransform(t);
  const out = new Uint8Array(set.images.length);
  const rng = t.kind === 'noise' ? new Rng(t.seed) : undefined;
  for (let i = 0; i < set.count; i++) {
    const at = i * IMAGE_BYTES;
    if (t.kind === 'jpeg') jpegRoundTrip(set.images, out, at, t.quality);
    else if (t.kind === 'median') medianFilter(set.images, out, at, t.size);
    else
      for (let j = at; j < at + IMAGE_BYTES; j++) out[j] = Math.max(0, Math.min(255, Math.round(set.images[j]! + t.std * rng!.normal())));
  }
  return { ...set, images: out, source: `${set.source} (${describeTransform(t)})` };
}

export function describeTransform(t: InputTransform): string {
  return t.kind === 'jpeg'
    ? `JPEG quality ${t.quality}`
    : t.kind === 'noise'
      ? `Gaussian noise std ${t.std}`
      : `median filter ${t.size}x${t.size}`;
}
