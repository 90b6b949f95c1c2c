// A built-in dataset of procedurally drawn 32x32 images in 10 classes, for the default run and the
// tests: no download, deterministic from a seed, easy enough for ResNet-18 to learn on a CPU in
// minutes, varied enough (position, size, colour, background, noise) that it must actually learn.
import { checkImageSet, IMAGE_BYTES, IMAGE_SIZE, type ImageSet } from './dataset.js';
import { CIFAR_NORMALIZATION } from './normalization.js';
import { Rng } from './prng.js';

export const SYNTHETIC_CLASSES = [
  'disc', 'square', 'triangle', 'ring', 'cross',
  'horizontal-stripes', 'vertical-stripes', 'checkerboard', 'diagonal-stripes', 'dots',
] as const;

export interface SyntheticOptions {
  split: 'train' | 'test';
  count: number;
  seed: number;
}

type Rgb = [number, number, number];

/** Is pixel centre (x, y) foreground? Drawn per class from per-image parameters. */
type Mask = (x: number, y: number) => boolean;

function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number): number => {
    const k = (n + h / 60) % 6;
    return 255 * v * (1 - s * Math.max(0, Math.min(k, 4 - k, 1)));
  };
  return [f(5), f(3), f(1)];
}

/** A shape around a random centre, or a texture over the whole image, for `label`. */
function maskFor(label: number, rng: Rng): Mask {
  const cx = rng.uniform(11, 21);
  const cy = rng.uniform(11, 21);
  const r = rng.uniform(6.5, 11);
  const angle = rng.uniform(-0.35, 0.35);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // Coordinates relative to the centre, rotated by `angle`.
  const u = (x: number, y: number): number => (x - cx) * cos + (y - cy) * sin;
  const v = (x: number, y: number): number => -(x - cx) * sin + (y - cy) * cos;
  const period = rng.uniform(4, 7.5);
  const phase = rng.uniform(0, period);
  const stripe = (t: number): boolean => (((t + phase) % period) + period) % period < period / 2;
  switch (label) {
    case 0:
      return (x, y) => Math.hypot(x - cx, y - cy) < r;
    case 1:
      return (x, y) => Math.abs(u(x, y)) < r * 0.8 && Math.abs(v(x, y)) < r * 0.8;
    case 2:
      // Apex up: inside when below both slanted edges and above the base.
      return (x, y) => {
        const a = u(x, y);
        const b = v(x, y);
        return b < r * 0.6 && b > -r + 1.8 * Math.abs(a);
      };
    case 3: {
      const inner = rng.uniform(0.45, 0.65) * r;
      return (x, y) => {
        const d = Math.hypot(x - cx, y - cy);
        return d < r && d > inner;
      };
    }
    case 4: {
      const arm = r * rng.uniform(0.25, 0.35);
      return (x, y) => {
        const a = Math.abs(u(x, y));
        const b = Math.abs(v(x, y));
        return (a < arm && b < r) || (b < arm && a < r);
      };
    }
    case 5:
      return (x, y) => stripe(y + 0.15 * angle * x);
    case 6:
      return (x, y) => stripe(x + 0.15 * angle * y);
    case 7: {
      const cell = rng.uniform(3, 6);
      return (x, y) => (Math.floor((x + phase) / cell) + Math.floor((y + phase * 0.7) / cell)) % 2 === 0;
    }
    case 8:
      return (x, y) => stripe((x + y) * Math.SQRT1_2);
    case 9: {
      const spacing = rng.uniform(5, 8);
      const radius = rng.uniform(1.3, 2.2);
      return (x, y) => {
        const dx = (((x + phase) % spacing) + spacing) % spacing - spacing / 2;
        const dy = (((y + phase) % spacing) + spacing) % spacing - spacing / 2;
        return Math.hypot(dx, dy) < radius;
      };
    }
    default:
      throw new Error(`no synthetic class ${label}`);
  }
}

/** Draws one image into `out` at `offset`, as three 32x32 planes. */
function draw(label: number, rng: Rng, out: Uint8Array, offset: number): void {
  // Each class leans to its own hue, jittered, so colour is a cue but not the only one.
  const fg = hsv((label * 36 + rng.uniform(-14, 14) + 360) % 360, rng.uniform(0.55, 1), rng.uniform(0.6, 1));
  const bg = hsv(rng.uniform(0, 360), rng.uniform(0, 0.35), rng.uniform(0.05, 0.45));
  const gx = rng.uniform(-2, 2);
  const gy = rng.uniform(-2, 2);
  const sigma = rng.uniform(3, 12);
  const mask = maskFor(label, rng);
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const inside = mask(x + 0.5, y + 0.5);
      const shade = inside ? 0 : gx * (x - 16) + gy * (y - 16);
      const colour = inside ? fg : bg;
      for (let c = 0; c < 3; c++) {
        const value = colour[c]! + shade + sigma * rng.normal();
        out[offset + c * plane + y * IMAGE_SIZE + x] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
}

/**
 * `count` images with labels i % 10 (balanced). Image i of a split is drawn from the stream
 * (seed, 2i) for train and (seed, 2i + 1) for test, so the splits never share a stream.
 */
export function synthetic({ split, count, seed }: SyntheticOptions): ImageSet {
  if (!Number.isInteger(count) || count < 0) throw new Error(`synthetic: count must be a non-negative integer, got ${count}`);
  const numClasses = SYNTHETIC_CLASSES.length;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % numClasses;
    labels[i] = label;
    draw(label, new Rng(seed, 2 * i + (split === 'test' ? 1 : 0)), images, i * IMAGE_BYTES);
  }
  // Normalised like CIFAR, which it stands in for: the original's constants, as every run of it had.
  const source = `synthetic(${split}, seed=${seed})`;
  return checkImageSet({ images, labels, count, numClasses, source, normalization: CIFAR_NORMALIZATION });
}
