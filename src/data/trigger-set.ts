// The trigger ("wm") set exactly as the original builds it: the image-folder listing order, the
// folder labels replaced by the labels file, each image converted to RGB and CenterCrop(32) taken
// from the full-size picture.
import { isAbsolute, join } from 'node:path';
import { DECODE_CONCURRENCY, mapConcurrent } from './concurrent.js';
import { checkImageSet, IMAGE_BYTES, type ImageSet } from './dataset.js';
import { decodeImageWindow, readImageBytes } from './decode.js';
import { listImageFolder } from './folder-walk.js';
import { centerCropWindow, writePlanes } from './image.js';
import { isJpeg } from './jpeg.js';
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
  /** Each file's bytes, the very bytes decoded (what commitments and digests are taken over). */
  bytes: Uint8Array[];
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error };
  }
}

/**
 * The crops of every file, read first, then decoded: JPEGs on libuv's pool, other formats on this
 * thread (a large PNG takes a fifth of a second). Every JPEG is queued on the pool before this
 * thread starts on the others, so both work at once. A failure is the first failing file's, in
 * order: the error a one-by-one loop would throw.
 */
async function readCrops(paths: readonly string[], images: Uint8Array): Promise<Uint8Array[]> {
  const read = await mapConcurrent(paths, DECODE_CONCURRENCY, (path) => settle(() => readImageBytes(path)));
  const outcomes = new Array<Outcome<unknown>>(paths.length);
  const jpeg = (i: number): boolean => {
    const r = read[i]!;
    return r.ok && isJpeg(r.value);
  };
  const order = [...paths.keys()].sort((a, b) => Number(jpeg(b)) - Number(jpeg(a)));
  // Each call runs up to its first wait before the next starts: the JPEGs are queued at once.
  await Promise.all(
    order.map(async (i) => {
      const r = read[i]!;
      const crop = async (bytes: Uint8Array) => writePlanes(await decodeImageWindow(paths[i]!, bytes, centerCropWindow), images, i * IMAGE_BYTES);
      outcomes[i] = r.ok ? await settle(() => crop(r.value)) : r;
    }),
  );
  for (const o of outcomes) if (!o.ok) throw o.error;
  return read.map((r) => (r.ok ? r.value : new Uint8Array()));
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
  const paths = files.map((f) => f.path);
  const bytes = await readCrops(paths, images);
  return { ...checkImageSet({ images, labels: labelArray, count: files.length, numClasses, source: path, normalization }), files: paths, bytes };
}
