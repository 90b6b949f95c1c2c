// MNIST and Fashion-MNIST: 28x28 grey digits / clothes in 10 classes, four idx files each (raw or
// .gz), found where torchvision keeps them or where the user points, Fashion-MNIST also in Debian's
// dataset-fashion-mnist package, and downloaded when missing (md5-checked, installed atomically).
// Each image enters the ResNet as 3 x 32 x 32 by one transform: zero-padded by 2 on every side
// (torchvision's Pad(2)), the grey value replicated to three channels (Grayscale(3)), then the
// dataset's own Normalize, carried with the set.
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Split } from './cifar.js';
import { checkImageSet, IMAGE_BYTES, IMAGE_SIZE, type ImageSet } from './dataset.js';
import { download, UnreachableError, urlIn } from './download.js';
import { inflateIdx, parseIdx } from './idx-format.js';
import { greyNormalization, type Normalization } from './normalization.js';
import { readRegularFile } from './regular-file.js';

export type MnistName = 'mnist' | 'fashion-mnist';

/** Side of an MNIST-style image; padded by (32 - 28) / 2 = 2 on each side to the network's 32. */
export const IDX_IMAGE_SIZE = 28;
const PAD = (IMAGE_SIZE - IDX_IMAGE_SIZE) / 2;
const CLASSES = 10;

/** Where Debian's `dataset-fashion-mnist` package puts the four .gz files. */
export const DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

interface IdxFile {
  /** The uncompressed name; the .gz file is this plus `.gz`. */
  name: string;
  /** md5 of the .gz file as published (torchvision's list), checked on download. */
  md5: string;
}

interface Layout {
  title: string;
  /** torchvision's folder: ROOT/<folder>/raw/ holds the files. */
  folder: string;
  urlEnv: string;
  officialUrl: string;
  normalization: Normalization;
  /** A folder a system package installs the files to, looked at after ROOT. */
  systemRoot?: string;
  files: Record<Split, { images: IdxFile; labels: IdxFile }>;
}

const LAYOUTS: Record<MnistName, Layout> = {
  mnist: {
    title: 'MNIST',
    folder: 'MNIST',
    urlEnv: 'WMNN_MNIST_URL',
    // torchvision's second mirror: its first, yann.lecun.com, now refuses most downloads.
    officialUrl: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
    // sampleStats of the 60,000 training images, 28x28 without the padding (the values every
    // PyTorch MNIST example uses); not recomputed by a test here, MNIST is not installed.
    normalization: greyNormalization(0.1307, 0.3081),
    files: {
      train: {
        images: { name: 'train-images-idx3-ubyte', md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
        labels: { name: 'train-labels-idx1-ubyte', md5: 'd53e105ee54ea40749a09fcbcd1e9432' },
      },
      test: {
        images: { name: 't10k-images-idx3-ubyte', md5: '9fb629c4189551a2d022fa330f9573f3' },
        labels: { name: 't10k-labels-idx1-ubyte', md5: 'ec29112dd5afa0611ce80d1b7f02629c' },
      },
    },
  },
  'fashion-mnist': {
    title: 'Fashion-MNIST',
    folder: 'FashionMNIST',
    urlEnv: 'WMNN_FASHION_MNIST_URL',
    officialUrl: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    // sampleStats of the 60,000 training images, 28x28 without the padding: 0.28604, 0.35302
    // (test/data/mnist.test.ts recomputes them from the installed files).
    normalization: greyNormalization(0.286, 0.353),
    systemRoot: DEBIAN_FASHION_MNIST,
    files: {
      train: {
        images: { name: 'train-images-idx3-ubyte', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
        labels: { name: 'train-labels-idx1-ubyte', md5: '25c81989df183df01b3e8a0aad5dffbe' },
      },
      test: {
        images: { name: 't10k-images-idx3-ubyte', md5: 'bef4ecab320f06d8554ea6380940ec79' },
        labels: { name: 't10k-labels-idx1-ubyte', md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
      },
    },
  },
};

/** The Normalize constants of an MNIST-style dataset (the training split's mean and std). */
export function mnistNormalization(name: MnistName): Normalization {
  return LAYOUTS[name].normalization;
}

export interface MnistOptions {
  root: string;
  dataset: MnistName;
  split: Split;
  /** Fetch and install the four files when they are found nowhere. */
  download: boolean;
  /** Mirror (a folder URL or a local folder): overrides $WMNN_MNIST_URL / $WMNN_FASHION_MNIST_URL. */
  url?: string;
  /** md5s the .gz files must have, by file name; default the published ones (for a mirror that recompresses). */
  md5s?: Readonly<Record<string, string>>;
  /** The system package's folder (Fashion-MNIST: Debian's); null: none. For tests. */
  systemRoot?: string | null;
  /** Status lines ("Downloading ..."); default stderr. */
  log?: (line: string) => void;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** `folder/name`, else `folder/name.gz` (torchvision keeps the uncompressed file, Debian the .gz). */
async function findFile(folder: string, name: string): Promise<string | undefined> {
  for (const candidate of [join(folder, name), join(folder, `${name}.gz`)]) {
    if (await exists(candidate)) return candidate;
  }
  return undefined;
}

interface Found {
  images: string;
  labels: string;
}

/** The split's two files in `folder`; undefined when neither is there, an error when only one is. */
async function findSplit(folder: string, layout: Layout, split: Split): Promise<Found | undefined> {
  const { images, labels } = layout.files[split];
  const [imagesPath, labelsPath] = [await findFile(folder, images.name), await findFile(folder, labels.name)];
  if (imagesPath && labelsPath) return { images: imagesPath, labels: labelsPath };
  if (imagesPath || labelsPath) {
    const [has, lacks] = imagesPath ? [imagesPath, labels.name] : [labelsPath!, images.name];
    throw new Error(`${folder}: has ${has} but no ${lacks} or ${lacks}.gz`);
  }
  return undefined;
}

function allFiles(layout: Layout): IdxFile[] {
  return [layout.files.train.images, layout.files.train.labels, layout.files.test.images, layout.files.test.labels];
}

function manualSteps(layout: Layout, raw: string): string {
  const files = allFiles(layout).map((f) => `${f.name}.gz (md5 ${f.md5})`).join(', ');
  return (
    `To install ${layout.title} by hand: download ${files} from ${layout.officialUrl} into ${raw}/ ` +
    `(or any folder, then give it as the data path); or set ${layout.urlEnv} to a mirror or a local folder holding them.`
  );
}

/** Downloads the four .gz files into ROOT/<folder>/raw, atomically: all md5-checked, or nothing. */
async function install(layout: Layout, root: string, opts: MnistOptions, log: (line: string) => void): Promise<string> {
  const base = opts.url ?? process.env[layout.urlEnv] ?? layout.officialUrl;
  const parent = join(root, layout.folder);
  const raw = join(parent, 'raw');
  await mkdir(parent, { recursive: true });
  // Beside the final folder, so the last step is a rename on one file system; the dot hides it.
  const work = await mkdtemp(join(parent, '.wmnn-download-'));
  try {
    log(`Downloading ${layout.title} from ${base} to ${raw}`);
    for (const file of allFiles(layout)) {
      const name = `${file.name}.gz`;
      const url = urlIn(base, name);
      const expected = opts.md5s?.[name] ?? file.md5;
      let got;
      try {
        got = await download({ url, file: join(work, name), label: name });
      } catch (error) {
        const reason = error instanceof UnreachableError ? `unreachable (${error.message})` : (error as Error).message;
        throw new Error(`Cannot download ${layout.title} from ${url}: ${reason}. ${manualSteps(layout, raw)}`);
      }
      if (got.md5 !== expected) {
        throw new Error(
          `Cannot download ${layout.title} from ${url}: the file's md5 is ${got.md5}, not ${expected}; nothing was installed. ` +
            manualSteps(layout, raw),
        );
      }
    }
    try {
      await rename(work, raw);
    } catch (error) {
      // Another process installed it meanwhile (theirs is as good), or a folder of the user's is there.
      const code = (error as NodeJS.ErrnoException).code;
      if (!(code === 'ENOTEMPTY' || code === 'EEXIST')) throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return raw;
}

async function readIdx(path: string, ndims: 1 | 3): Promise<{ dims: number[]; data: Uint8Array }> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path);
  } catch (error) {
    throw new Error(`${path}: cannot read: ${(error as Error).message}`);
  }
  return parseIdx(inflateIdx(bytes, path), path, ndims);
}

/** The one transform: each 28x28 grey image zero-padded by 2 to 32x32, the grey replicated to 3 planes. */
export function padGreyToPlanes(grey: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count * IMAGE_BYTES);
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let i = 0; i < count; i++) {
    const src = i * IDX_IMAGE_SIZE * IDX_IMAGE_SIZE;
    const dst = i * IMAGE_BYTES;
    for (let y = 0; y < IDX_IMAGE_SIZE; y++) {
      const row = grey.subarray(src + y * IDX_IMAGE_SIZE, src + (y + 1) * IDX_IMAGE_SIZE);
      const at = dst + (y + PAD) * IMAGE_SIZE + PAD;
      out.set(row, at);
      out.set(row, at + plane);
      out.set(row, at + 2 * plane);
    }
  }
  return out;
}

async function read(layout: Layout, found: Found): Promise<ImageSet> {
  const images = await readIdx(found.images, 3);
  const labels = await readIdx(found.labels, 1);
  const [count, rows, columns] = images.dims as [number, number, number];
  if (rows !== IDX_IMAGE_SIZE || columns !== IDX_IMAGE_SIZE) {
    throw new Error(`${found.images}: images of ${rows}x${columns}, expected ${IDX_IMAGE_SIZE}x${IDX_IMAGE_SIZE}`);
  }
  if (count === 0) throw new Error(`${found.images}: no images`);
  if (labels.dims[0] !== count) throw new Error(`${found.labels}: ${labels.dims[0]} labels for the ${count} images of ${found.images}`);
  const labelArray = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels.data[i]!;
    if (label >= CLASSES) throw new Error(`${found.labels}: label ${label} of image ${i} is outside 0..${CLASSES - 1}`);
    labelArray[i] = label;
  }
  return checkImageSet({
    images: padGreyToPlanes(images.data, count),
    labels: labelArray,
    count,
    numClasses: CLASSES,
    source: found.images,
    normalization: layout.normalization,
  });
}

/**
 * One split of MNIST or Fashion-MNIST. Looked for, first match wins: ROOT/<MNIST|FashionMNIST>/raw
 * (torchvision's place), ROOT itself, Debian's folder (Fashion-MNIST), else downloaded into the first.
 */
export async function loadMnist(opts: MnistOptions): Promise<ImageSet> {
  const layout = LAYOUTS[opts.dataset];
  const root = resolve(opts.root);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const systemRoot = opts.systemRoot === undefined ? layout.systemRoot : opts.systemRoot ?? undefined;
  const folders = [join(root, layout.folder, 'raw'), root, ...(systemRoot ? [systemRoot] : [])];
  for (const folder of folders) {
    const found = await findSplit(folder, layout, opts.split);
    if (found) return read(layout, found);
  }
  const raw = join(root, layout.folder, 'raw');
  if (!opts.download) {
    throw new Error(`${layout.title} is not in ${folders.join(', ')} and downloading is off. ${manualSteps(layout, raw)}`);
  }
  const installed = await install(layout, root, opts, log);
  const found = await findSplit(installed, layout, opts.split);
  if (!found) {
    throw new Error(`${installed}: no ${layout.files[opts.split].images.name} after the download (delete the folder to download again)`);
  }
  return read(layout, found);
}
