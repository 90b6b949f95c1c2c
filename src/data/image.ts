// A decoded RGB picture in host memory and the two geometric steps every reader needs:
// torchvision's CenterCrop and the repacking into CIFAR's channel planes.
import { IMAGE_SIZE } from './dataset.js';
import { roundHalfEven } from './pyround.js';

/** An 8-bit RGB image, pixels interleaved (r, g, b, r, g, b, ...), rows top to bottom. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * torchvision 0.14 `CenterCrop(size)` on a PIL image: a side shorter than `size` is first padded
 * with zeros ((size - n) // 2 before, the rest after), then the crop starts at
 * round((n - size) / 2) with Python's half-to-even rounding.
 */
export function centerCrop(image: RgbImage, size: number = IMAGE_SIZE): RgbImage {
  const padTop = image.height < size ? Math.floor((size - image.height) / 2) : 0;
  const padLeft = image.width < size ? Math.floor((size - image.width) / 2) : 0;
  const paddedHeight = Math.max(image.height, size);
  const paddedWidth = Math.max(image.width, size);
  // Offsets into the padded image, then shifted back into source coordinates.
  const top = roundHalfEven((paddedHeight - size) / 2) - padTop;
  const left = roundHalfEven((paddedWidth - size) / 2) - padLeft;
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < size; x++) {
      const sx = left + x;
      if (sx < 0 || sx >= image.width) continue;
      const s = (sy * image.width + sx) * 3;
      const d = (y * size + x) * 3;
      out[d] = image.data[s]!;
      out[d + 1] = image.data[s + 1]!;
      out[d + 2] = image.data[s + 2]!;
    }
  }
  return { width: size, height: size, data: out };
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
