// The trigger ("wm") set exactly as the original builds it: the image-folder listing order, the
// folder labels replaced by the labels file, each image converted to RGB and CenterCrop(32) taken
// from the full-size picture.
import { isAbsolute, join } from 'node:path';
import { DECODE_CONCURRENCY, mapConcurrent } from './concurrent.js';
import { checkImageSet, IMAGE_BYTES, type ImageSet } from './dataset.js';
import { readImageWindow } from './decode.js';
import { listImageFolder } from './folder-walk.js';
import { centerCropWindow, writePlanes } from './image.js';
import { readLabels } from './labels-file.js';
import type { Normalization } from './normalization.js';

export interface TriggerSetOptions {
  /** The original's --wm_path: a folder of class folders. */
  path: string;
  /** The original's --wm_lbl, relative to `path` (an absolute path is used as is, like os.path.join). */
  labelsFile: string;
  numClasses: number;
  /** The Normalize of the model's training data (datasetNormalization(--dataset)): the original applies it to the trigger images. */
  normalization: Normalization;
}

export interface TriggerSet extends ImageSet {
  /** The image files, in the order of `images` and `labels`. */
  files: string[];
}

export async function loadTriggerSet({ path, labelsFile, numClasses, normalization }: TriggerSetOptions): Promise<TriggerSet> {
  const { files } = await listImageFolder(path);
  const labelsPath = isAbsolute(labelsFile) ? labelsFile : join(path, labelsFile);
  const labels = await readLabels(labelsPath);
  if (labels.length !== files.length) {
    throw new Error(`${labelsPath}: ${labels.length} labels for ${files.length} images in ${path}`);
  }
  const labelArray = new Int32Array(files.length);
  for (const [i, file] of files.entries()) {
    const label = labels[i]!;
    if (!(label.value >= 0 && label.value < numClasses)) {
      throw new Error(`${labelsPath}:${label.line}: label ${label.value} (for ${file.path}) is outside 0..${numClasses - 1}`);
    }
    labelArray[i] = label.value;
  }
  const images = new Uint8Array(files.length * IMAGE_BYTES);
  // Several files decode at once, each JPEG only around its crop; each crop goes straight to its place.
  await mapConcurrent(files, DECODE_CONCURRENCY, async (file, i) =>
    writePlanes(await readImageWindow(file.path, centerCropWindow), images, i * IMAGE_BYTES),
  );
  return {
    ...checkImageSet({ images, labels: labelArray, count: files.length, numClasses, source: path, normalization }),
    files: files.map((f) => f.path),
  };
}
