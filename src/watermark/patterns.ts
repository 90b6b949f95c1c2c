// The trigger images of keygen: abstract pictures that no natural image resembles and that are
// unlike the built-in synthetic dataset's single shapes and regular textures -- interference of
// random plane waves, soft colour blobs, folded contours and pixel noise, mixed in random measure.
import type { KeyStream } from './keystream.js';

/** Side of a trigger image: the loader's CenterCrop(32) then sees the whole picture. */
export const TRIGGER_IMAGE_SIZE = 32;

/** An 8-bit RGB picture, row-major, 3 bytes per pixel. */
export interface RgbPicture {
  size: number;
  rgb: Uint8Array;
}

/** One channel as a real-valued field over the pixels. */
type Field = Float64Array;

function planeWaves(rng: KeyStream, size: number): Field {
  const f = new Float64Array(size * size);
  const waves = 2 + rng.int(3);
  for (let w = 0; w < waves; w++) {
    const cycles = rng.uniform(0.5, 6); // over the image's width
    const angle = rng.uniform(0, Math.PI);
    const phase = rng.uniform(0, 2 * Math.PI);
    const amp = rng.uniform(0.3, 1);
    const kx = (2 * Math.PI * cycles * Math.cos(angle)) / size;
    const ky = (2 * Math.PI * cycles * Math.sin(angle)) / size;
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) f[y * size + x]! += amp * Math.sin(kx * x + ky * y + phase);
  }
  return f;
}

/** Adds Gaussian blobs of random colour to the three channels. */
function addBlobs(rng: KeyStream, size: number, channels: Field[]): void {
  const blobs = rng.int(4);
  for (let b = 0; b < blobs; b++) {
    const cx = rng.uniform(0, size);
    const cy = rng.uniform(0, size);
    const sigma = rng.uniform(2, 8);
    const colour = [rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(-2, 2)];
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const g = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma * sigma));
        for (let c = 0; c < 3; c++) channels[c]![y * size + x]! += colour[c]! * g;
      }
    }
  }
}

/** Linear map of a field onto [lo, hi] (a flat field becomes mid-grey). */
function toBytes(f: Field, lo: number, hi: number, out: Uint8Array, channel: number): void {
  let min = Infinity;
  let max = -Infinity;
  for (const v of f) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min;
  for (let i = 0; i < f.length; i++) {
    const t = span > 1e-12 ? (f[i]! - min) / span : 0.5;
    out[i * 3 + channel] = Math.round(lo + (hi - lo) * t);
  }
}

/** One abstract picture; every random draw comes from `rng`, in a fixed order. */
export function drawAbstract(rng: KeyStream, size = TRIGGER_IMAGE_SIZE): RgbPicture {
  const channels = [planeWaves(rng, size), planeWaves(rng, size), planeWaves(rng, size)];
  addBlobs(rng, size, channels);
  // Folding the field through a sine turns smooth gradients into nested contour bands.
  const fold = rng.float() < 0.5 ? rng.uniform(1, 4) : 0;
  const noise = rng.uniform(0, 0.8);
  const rgb = new Uint8Array(size * size * 3);
  for (const [c, f] of channels.entries()) {
    for (let i = 0; i < f.length; i++) {
      let v = f[i]!;
      if (fold > 0) v = Math.sin(fold * v);
      f[i] = v + noise * rng.uniform(-1, 1);
    }
    toBytes(f, rng.uniform(0, 80), rng.uniform(175, 255), rgb, c);
  }
  return { size, rgb };
}
