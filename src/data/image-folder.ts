// `--dataset imagefolder`: ROOT/train/<class>/* and ROOT/test/<class>/* in torchvision's
// ImageFolder layout, every image converted to RGB (as PIL does) and resized to 32x32 with PIL's
// bilinear filter, i.e. what transforms.Resize((32, 32)) gives.
import { join } from 'node:path';
import { DECODE_CONCURRENCY, mapConcurrent } from './concurrent.js';
import { checkImageSet, IMAGE_BYTES, IMAGE_SIZE, type ImageSet } from './dataset.js';
import { readImage } from './decode.js';
import { listImageFolder } from './folder-walk.js';
import { writePlanes } from './image.js';
import { CIFAR_NORMALIZATION } from './normalization.js';
import { resizeBilinear } from './resize.js';

export interface ImageFolderOptions {
  root: string;
  split: 'train' | 'test';
}

export interface ImageFolderSet extends ImageSet {
  /** Class names; label i is classes[i]. Always those of ROOT/train, so both splits agree. */
  classes: string[];
  /** The image files, in the order of `images` and `labels`. */
  files: string[];
}

export async function loadImageFolder({ root, split }: ImageFolderOptions): Promise<ImageFolderSet> {
  const train = await listImageFolder(join(root, 'train'));
  const { classes } = train;
  const folder = join(root, split);
  const listing = split === 'train' ? train : await listImageFolder(folder);
  const labels = new Int32Array(listing.files.length);
  for (const [i, file] of listing.files.entries()) {
    const name = listing.classes[file.classIndex]!;
    const label = classes.indexOf(name);
    if (label < 0) throw new Error(`${join(folder, name)}: class folder not in ${join(root, 'train')} (classes: ${classes.join(', ')})`);
    labels[i] = label;
  }
  const images = new Uint8Array(listing.files.length * IMAGE_BYTES);
  await mapConcurrent(listing.files, DECODE_CONCURRENCY, async (file, i) =>
    writePlanes(resizeBilinear(await readImage(file.path), IMAGE_SIZE, IMAGE_SIZE), images, i * IMAGE_BYTES),
  );
  // The original's constants (its scripts have no others); a folder of other images is still scaled like CIFAR.
  const count = listing.files.length;
  const set = checkImageSet({ images, labels, count, numClasses: classes.length, source: folder, normalization: CIFAR_NORMALIZATION });
  return { ...set, classes, files: listing.files.map((f) => f.path) };
}
