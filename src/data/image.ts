// A decoded RGB picture in host memory and the geometric steps the readers need: torchvision's
// CenterCrop as a window (so a decoder can produce just that part), the crop of a window, and the
// repacking into CIFAR's channel planes.
import { IMAGE_SIZE } from './dataset.js';
import { roundHalfEven } from './pyround.js';

/** An 8-bit RGB image, pixels interleaved (r, g, b, r, g, b, ...), rows top to bottom. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A rectangle of pixels; in source coordinates it may reach outside the image (padding). */
export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Where torchvision 0.14's `CenterCrop(size)` takes its square from, in a width x height image: a
 * side shorter than `size` is first padded with zeros ((size - n) // 2 before, the rest after),
 * then the crop starts at round((n - size) / 2) with Python's half-to-even rounding; shifted back
 * into source coordinates, so a padded side starts before 0.
 */
export function centerCropWindow(width: number, height: number, size: number = IMAGE_SIZE): Rect {
  const padTop = height < size ? Math.floor((size - height) / 2) : 0;
  const padLeft = width < size ? Math.floor((size - width) / 2) : 0;
  const top = roundHalfEven((Math.max(height, size) - size) / 2) - padTop;
  const left = roundHalfEven((Math.max(width, size) - size) / 2) - padLeft;
  return { left, top, width: size, height: size };
}

/** The part of `window` inside a width x height image: the pixels that are not padding. */
export function insideImage(window: Rect, width: number, height: number): Rect {
  const left = Math.max(0, window.left);
  const top = Math.max(0, window.top);
  return {
    left,
    top,
    width: Math.min(width, window.left + window.width) - left,
    height: Math.min(height, window.top + window.height) - top,
  };
}

/** The `window` crop, taken from `part`, the pixels of the source rectangle `at`; zeros outside it. */
export function cropWindow(part: RgbImage, at: Pick<Rect, 'left' | 'top'>, window: Rect): RgbImage {
  const out = new Uint8Array(window.width * window.height * 3);
  for (let y = 0; y < window.height; y++) {
    const sy = window.top + y - at.top;
    if (sy < 0 || sy >= part.height) continue;
    for (let x = 0; x < window.width; x++) {
      const sx = window.left + x - at.left;
      if (sx < 0 || sx >= part.width) continue;
      const s = (sy * part.width + sx) * 3;
      const d = (y * window.width + x) * 3;
      out[d] = part.data[s]!;
      out[d + 1] = part.data[s + 1]!;
      out[d + 2] = part.data[s + 2]!;
    }
  }
  return { width: window.width, height: window.height, data: out };
}

/** Writes a 32x32 interleaved image as three planes (all red, then green, then blue) at `offset`. */
export function writePlanes(image: RgbImage, target: Uint8Array, offset: number): void {
  if (image.width !== IMAGE_SIZE || image.height !== IMAGE_SIZE) {
    throw new Error(`writePlanes needs a ${IMAGE_SIZE}x${IMAGE_SIZE} image, got ${image.width}x${image.height}`);
  }
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let i = 0; i < plane; i++) {
    target[offset + i] = image.data[i * 3]!;
    target[offset + plane + i] = image.data[i * 3 + 1]!;
    target[offset + 2 * plane + i] = image.data[i * 3 + 2]!;
  }
}
