// CIFAR-10 and CIFAR-100 as torchvision finds them under a root folder (python pickles, or the
// binary release as a fallback), downloaded when missing the way `download=True` does -- except
// that an install is atomic: the archive is fetched, checked and unpacked in a temporary folder
// and only a complete dataset is renamed into place.
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { checkImageSet, IMAGE_BYTES, type ImageSet } from './dataset.js';
import { parseBinaryBatch, parsePythonBatch, type CifarBatch } from './cifar-format.js';
import { download, extractTarGz, md5File, toUrl, UnreachableError, urlIn } from './download.js';
import { CIFAR_NORMALIZATION } from './normalization.js';
import { readRegularFile } from './regular-file.js';

export type CifarName = 'cifar10' | 'cifar100';
export type Split = 'train' | 'test';

/** Environment variable naming a mirror (base or archive URL, or a local folder/file). */
export const CIFAR_URL_ENV = 'WMNN_CIFAR_URL';
export const OFFICIAL_BASE_URL = 'https://www.cs.toronto.edu/~kriz/';
/** Set to 0 to load python-format files whose md5 is not torchvision's (data of your own). */
export const CIFAR_VERIFY_ENV = 'WMNN_CIFAR_VERIFY';

interface Layout {
  title: string;
  numClasses: number;
  archive: string;
  archiveMd5: string;
  /** torchvision's folder and its files with their md5s, per split. */
  python: { folder: string; files: Record<Split, ReadonlyArray<readonly [string, string]>> };
  binary: { folder: string; files: Record<Split, readonly string[]>; labelBytes: 1 | 2 };
}

const LAYOUTS: Record<CifarName, Layout> = {
  cifar10: {
    title: 'CIFAR-10',
    numClasses: 10,
    archive: 'cifar-10-python.tar.gz',
    archiveMd5: 'c58f30108f718f92721af3b95e74349a',
    python: {
      folder: 'cifar-10-batches-py',
      files: {
        train: [
          ['data_batch_1', 'c99cafc152244af753f735de768cd75f'],
          ['data_batch_2', 'd4bba439e000b95fd0a9bffe97cbabec'],
          ['data_batch_3', '54ebc095f3ab1f0389bbae665268c751'],
          ['data_batch_4', '634d18415352ddfa80567beed471001a'],
          ['data_batch_5', '482c414d41f54cd18b22e5b47cb7c3cb'],
        ],
        test: [['test_batch', '40351d587109b95175f43aff81a1287e']],
      },
    },
    binary: {
      folder: 'cifar-10-batches-bin',
      files: { train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), test: ['test_batch.bin'] },
      labelBytes: 1,
    },
  },
  cifar100: {
    title: 'CIFAR-100',
    numClasses: 100,
    archive: 'cifar-100-python.tar.gz',
    archiveMd5: 'eb9058c3a382ffc7106e4002c42a8d85',
    python: {
      folder: 'cifar-100-python',
      files: {
        train: [['train', '16019d7e3df5f24257cddd939b257f8d']],
        test: [['test', 'f0ef6b0ae62326f3e7ffdfab6717acfc']],
      },
    },
    binary: { folder: 'cifar-100-binary', files: { train: ['train.bin'], test: ['test.bin'] }, labelBytes: 2 },
  },
};

export interface CifarOptions {
  root: string;
  dataset: CifarName;
  split: Split;
  /** Fetch and install the python-format archive when no dataset folder is there. */
  download: boolean;
  /** Mirror: overrides $WMNN_CIFAR_URL, which overrides the official URL (see archiveUrl). */
  url?: string;
  /** md5 the archive must have; default the official archive's (a mirror serves the same file). */
  archiveMd5?: string;
  /** Check python-format files against torchvision's md5 list; default on unless $WMNN_CIFAR_VERIFY is 0. */
  verify?: boolean;
  /** Status lines ("Downloading ..."); default stderr. */
  log?: (line: string) => void;
}

/**
 * The archive URL for `base`: a value whose path ends in .tar.gz or .tgz is the archive itself
 * (used for whichever dataset is asked for); anything else is a folder the archive name is
 * appended to. A value without a scheme is a local path.
 */
export function archiveUrl(base: string, archive: string): string {
  const url = toUrl(base);
  return /\.(tar\.gz|tgz)$/i.test(url.pathname) ? url.href : urlIn(url, archive);
}

function manualSteps(layout: Layout, root: string): string {
  return (
    `To install ${layout.title} by hand: download ${OFFICIAL_BASE_URL}${layout.archive} (md5 ${layout.archiveMd5}), then either ` +
    `copy it into ${root}/ (wmnn checks and unpacks it) or unpack it there yourself ` +
    `(tar -xzf ${layout.archive} -C ${root}, giving ${join(root, layout.python.folder)}/); ` +
    `or set ${CIFAR_URL_ENV} to a mirror or a local copy.`
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The names not there; `present` decides (default: anything by that name, its type checked on reading). */
async function missingFiles(folder: string, names: readonly string[], present = exists): Promise<string[]> {
  const missing: string[] = [];
  for (const name of names) {
    if (!(await present(join(folder, name)))) missing.push(name);
  }
  return missing;
}

/** Refuses a python-format file that is not the official one (its md5 is not torchvision's). */
function verifyPython(layout: Layout, folder: string, path: string, bytes: Uint8Array, md5: string): void {
  const actual = createHash('md5').update(bytes).digest('hex');
  if (actual !== md5) {
    throw new Error(
      `${path}: md5 ${actual} is not that of the official ${layout.title} file (${md5}): the file is corrupt or not the original ` +
        `(delete ${folder} to download it again; data of your own in this format loads with ${CIFAR_VERIFY_ENV}=0)`,
    );
  }
}

function combine(batches: CifarBatch[], layout: Layout, source: string): ImageSet {
  const count = batches.reduce((n, b) => n + b.labels.length, 0);
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  let offset = 0;
  for (const batch of batches) {
    images.set(batch.images, offset * IMAGE_BYTES);
    labels.set(batch.labels, offset);
    offset += batch.labels.length;
  }
  return checkImageSet({ images, labels, count, numClasses: layout.numClasses, source, normalization: CIFAR_NORMALIZATION });
}

/** Reads each file once; `check` (the md5 check) sees the bytes before they are parsed. */
async function readBatches(
  folder: string,
  names: readonly string[],
  parse: (bytes: Uint8Array, file: string) => CifarBatch,
  check?: (path: string, bytes: Uint8Array, index: number) => void,
): Promise<CifarBatch[]> {
  const batches: CifarBatch[] = [];
  for (const [index, name] of names.entries()) {
    const path = join(folder, name);
    let bytes: Buffer;
    try {
      bytes = await readRegularFile(path);
    } catch (error) {
      throw new Error(`${path}: cannot read: ${(error as Error).message}`);
    }
    check?.(path, bytes, index);
    batches.push(parse(bytes, path));
  }
  return batches;
}

/** Fetches (or takes ROOT/<archive> if it is the right file), checks and unpacks; atomic. */
async function install(layout: Layout, root: string, opts: CifarOptions, log: (line: string) => void): Promise<void> {
  const expectedMd5 = opts.archiveMd5 ?? layout.archiveMd5;
  const url = archiveUrl(opts.url ?? process.env[CIFAR_URL_ENV] ?? OFFICIAL_BASE_URL, layout.archive);
  await mkdir(root, { recursive: true });
  // Inside root, so the final rename stays on one file system; the dot keeps it out of listings.
  const work = await mkdtemp(join(root, '.wmnn-download-'));
  try {
    let archive = join(root, layout.archive);
    // Only a regular file is hashed: a FIFO there would block the read forever.
    const local = (await isRegularFile(archive)) ? await md5File(archive) : undefined;
    if (local !== undefined && local !== expectedMd5) log(`Ignoring ${archive}: md5 ${local}, not ${expectedMd5}`);
    if (local !== expectedMd5) {
      archive = join(work, layout.archive);
      log(`Downloading ${url} to ${root}`);
      let got;
      try {
        got = await download({ url, file: archive, label: layout.archive });
      } catch (error) {
        const reason = error instanceof UnreachableError ? `unreachable (${error.message})` : (error as Error).message;
        throw new Error(`Cannot download ${layout.title} from ${url}: ${reason}. ${manualSteps(layout, root)}`);
      }
      if (got.md5 !== expectedMd5) {
        throw new Error(
          `Cannot download ${layout.title} from ${url}: the file's md5 is ${got.md5}, not ${expectedMd5} ` +
            `(corrupt or not the ${layout.title} archive); nothing was installed. ${manualSteps(layout, root)}`,
        );
      }
    } else {
      log(`Using ${archive} (md5 checked)`);
    }
    log(`Extracting ${archive} to ${root}`);
    const unpacked = join(work, 'unpacked');
    try {
      await extractTarGz(archive, unpacked);
    } catch (error) {
      throw new Error(`${archive}: cannot unpack: ${(error as Error).message}`);
    }
    const folder = join(unpacked, layout.python.folder);
    const names = [...layout.python.files.train, ...layout.python.files.test].map(([name]) => name);
    const missing = await missingFiles(folder, names, isRegularFile);
    if (missing.length > 0) {
      throw new Error(`${archive}: the archive lacks ${layout.python.folder}/${missing.join(', ')}; nothing was installed`);
    }
    try {
      await rename(folder, join(root, layout.python.folder));
    } catch (error) {
      // Another process installed it meanwhile: theirs is as good as ours.
      const code = (error as NodeJS.ErrnoException).code;
      if (!(code === 'ENOTEMPTY' || code === 'EEXIST')) throw error;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * One split of CIFAR-10/100 under `root`, found as torchvision finds it: ROOT/cifar-10-batches-py
 * (or ROOT/cifar-100-python); failing that, the binary release (ROOT/cifar-10-batches-bin or
 * ROOT/cifar-100-binary); failing that, downloaded and installed when `download` is on.
 */
export async function loadCifar(opts: CifarOptions): Promise<ImageSet> {
  const layout = LAYOUTS[opts.dataset];
  const root = isAbsolute(opts.root) ? opts.root : resolve(opts.root);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const verify = opts.verify ?? process.env[CIFAR_VERIFY_ENV] !== '0';
  const pythonFolder = join(root, layout.python.folder);
  const pythonNames = layout.python.files[opts.split].map(([name]) => name);
  const binaryFolder = join(root, layout.binary.folder);
  const binaryNames = layout.binary.files[opts.split];

  let installed = false;
  if (!(await exists(pythonFolder)) && (await missingFiles(binaryFolder, binaryNames)).length > 0) {
    if (!opts.download) {
      const folders = `no ${layout.python.folder}/ or ${layout.binary.folder}/`;
      throw new Error(`${layout.title} is not in ${root} (${folders}) and downloading is off. ${manualSteps(layout, root)}`);
    }
    await install(layout, root, opts, log);
    installed = true;
  }
  if (await exists(pythonFolder)) {
    const missing = await missingFiles(pythonFolder, pythonNames);
    if (missing.length > 0) {
      throw new Error(`${pythonFolder}: incomplete, missing ${missing.join(', ')} (delete the folder to download it again)`);
    }
    // Files just unpacked from the official archive (md5 checked) need no second look.
    const fromOfficialArchive = installed && (opts.archiveMd5 ?? layout.archiveMd5) === layout.archiveMd5;
    const md5s = layout.python.files[opts.split].map(([, md5]) => md5);
    const check = verify && !fromOfficialArchive
      ? (path: string, bytes: Uint8Array, i: number) => verifyPython(layout, pythonFolder, path, bytes, md5s[i]!)
      : undefined;
    const batches = await readBatches(pythonFolder, pythonNames, parsePythonBatch, check);
    if (opts.download && verify && !installed) log('Files already downloaded and verified');
    return combine(batches, layout, pythonFolder);
  }
  const batches = await readBatches(binaryFolder, binaryNames, (bytes, file) => parseBinaryBatch(bytes, file, layout.binary.labelBytes));
  return combine(batches, layout, binaryFolder);
}
