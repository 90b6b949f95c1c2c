// Trigger-set load time, the ways of decoding side by side in one run: one file at a time or
// DECODE_CONCURRENCY in flight on libuv's pool, each JPEG decoded whole or only around its
// CenterCrop, and loadTriggerSet itself (in flight + window). Every way must give the same bytes.
// A last line times the files that are not JPEGs alone (decoded whole, on the main thread).
// usage: node --import tsx scripts/bench-trigger-load.ts [TRIGGER_DIR] [--rounds N]
//   TRIGGER_DIR defaults to $WMNN_PAPER_TRIGGER_SET, else ../shared/trigger_set beside the repository.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DECODE_CONCURRENCY, mapConcurrent } from '../src/data/concurrent.js';
import { IMAGE_BYTES } from '../src/data/dataset.js';
import { readImage, readImageWindow } from '../src/data/decode.js';
import { listImageFolder } from '../src/data/folder-walk.js';
import { isJpeg } from '../src/data/jpeg.js';
import { centerCropWindow, cropWindow, writePlanes, type RgbImage } from '../src/data/image.js';
import { CIFAR_NORMALIZATION } from '../src/data/normalization.js';
import { loadTriggerSet } from '../src/data/trigger-set.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const { values: flags, positionals } = parseArgs({ options: { rounds: { type: 'string', default: '7' } }, allowPositionals: true });
const dir = positionals[0] ?? process.env.WMNN_PAPER_TRIGGER_SET ?? resolve(ROOT, '..', 'shared', 'trigger_set');
const rounds = Number(flags.rounds);

const whole = async (path: string): Promise<RgbImage> => {
  const image = await readImage(path);
  return cropWindow(image, { left: 0, top: 0 }, centerCropWindow(image.width, image.height));
};
const windowed = (path: string): Promise<RgbImage> => readImageWindow(path, centerCropWindow);
type Crop = typeof windowed;

/** The listing and the crop of every file `keep` keeps, as loadTriggerSet builds them, `concurrency` at a time. */
async function decodeAll(concurrency: number, crop: Crop, keep = (_path: string) => true): Promise<Uint8Array> {
  const files = (await listImageFolder(dir)).files.filter((f) => keep(f.path));
  const images = new Uint8Array(files.length * IMAGE_BYTES);
  await mapConcurrent(files, concurrency, async (file, i) => writePlanes(await crop(file.path), images, i * IMAGE_BYTES));
  return images;
}

const triggerSet = { path: dir, labelsFile: 'labels-cifar.txt', numClasses: 10, normalization: CIFAR_NORMALIZATION };
const others = new Set((await listImageFolder(dir)).files.map((f) => f.path).filter((path) => !isJpeg(readFileSync(path))));
const ways: Array<{ name: string; load: () => Promise<Uint8Array> }> = [
  { name: 'one at a time, whole image (before)', load: () => decodeAll(1, whole) },
  { name: 'one at a time, window', load: () => decodeAll(1, windowed) },
  { name: `${DECODE_CONCURRENCY} in flight, whole image`, load: () => decodeAll(DECODE_CONCURRENCY, whole) },
  { name: `loadTriggerSet: ${DECODE_CONCURRENCY} in flight, window (after)`, load: async () => (await loadTriggerSet(triggerSet)).images },
  { name: `of which the ${others.size} files not JPEG, one at a time`, load: () => decodeAll(1, whole, (path) => others.has(path)) },
];

// One untimed round loads the addon and warms the page cache; then the ways take turns, so drift hits all alike.
const reference = await ways[0]!.load();
for (const way of ways.slice(0, -1)) {
  if (Buffer.compare(await way.load(), reference) !== 0) throw new Error(`${way.name}: other bytes than one at a time, whole`);
}
const times = ways.map(() => [] as number[]);
for (let r = 0; r < rounds; r++) {
  for (const [k, way] of ways.entries()) {
    const t0 = performance.now();
    await way.load();
    times[k]!.push(performance.now() - t0);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(times[0]!);
console.log(
  `${dir}: ${reference.length / IMAGE_BYTES} images; CPU ${cpus()[0]?.model} x${cpus().length}; ` +
    `UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}; median of ${rounds} rounds`,
);
for (const [k, way] of ways.entries()) {
  const ms = median(times[k]!);
  const ratio = k === ways.length - 1 ? `${((100 * ms) / median(times[3]!)).toFixed(0)}% of after` : `${(base / ms).toFixed(2)}x`;
  console.log(`  ${way.name.padEnd(52)} ${ms.toFixed(1).padStart(8)} ms  ${ratio}`);
}
