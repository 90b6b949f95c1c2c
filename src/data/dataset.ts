// The one shape every data reader returns (CIFAR, trigger set, image folder, synthetic), so the
// training code never cares where images came from.
import type { Normalization } from './normalization.js';

/** Side length of every image wmnn feeds the network. */
export const IMAGE_SIZE = 32;
/** Bytes of one image: 3 channel planes of 32 x 32. */
export const IMAGE_BYTES = 3 * IMAGE_SIZE * IMAGE_SIZE;

export interface ImageSet {
  /** N images, uint8, channel planes like CIFAR: N x 3 x 32 x 32 (all red, then green, then blue, row-major). */
  images: Uint8Array;
  /** N labels, 0 <= label < numClasses. */
  labels: Int32Array;
  count: number;
  numClasses: number;
  /** Where it came from, for messages (a path or 'synthetic(seed=1)'). */
  source: string;
  /** The Normalize the network's input gets (the training data's: a trigger set takes its model's). */
  normalization: Normalization;
}

/** Throws if the arrays disagree with count/numClasses: a reader bug must not reach training. */
export function checkImageSet(set: ImageSet): ImageSet {
  const { images, labels, count, numClasses, source, normalization } = set;
  const { mean, std } = normalization;
  if (![...mean, ...std].every(Number.isFinite) || !std.every((s) => s > 0)) {
    throw new Error(`${source}: normalization mean ${mean.join(', ')} / std ${std.join(', ')} is not finite with std > 0`);
  }
  if (images.length !== count * IMAGE_BYTES) {
    throw new Error(`${source}: ${images.length} image bytes for ${count} images (expected ${count * IMAGE_BYTES})`);
  }
  if (labels.length !== count) throw new Error(`${source}: ${labels.length} labels for ${count} images`);
  for (let i = 0; i < count; i++) {
    const label = labels[i]!;
    if (label < 0 || label >= numClasses) {
      throw new Error(`${source}: label ${label} of image ${i} is outside 0..${numClasses - 1}`);
    }
  }
  return set;
}

/**
 * The first `count` images of a set (all of them when `count` is 0 or at least the set's size):
 * the subsets of --train_size/--test_size, which torchvision writes `Subset(ds, range(count))`.
 */
export function firstImages<T extends ImageSet>(set: T, count: number): T {
  if (count <= 0 || count >= set.count) return set;
  return {
    ...set,
    images: set.images.subarray(0, count * IMAGE_BYTES),
    labels: set.labels.subarray(0, count),
    count,
    source: `${set.source} (first ${count})`,
  };
}
