// MNIST-style datasets: the idx reader against torchvision's FashionMNIST on Debian's installed
// files (same labels, same network inputs: max difference 0), then fixtures written here for the
// layouts, the transform, every refusal and the download (from a local HTTP server).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readNpy } from '../../src/checkpoint/npy.js';
import { IMAGE_BYTES, type ImageSet } from '../../src/data/dataset.js';
import { IDX_MAX_BYTES, inflateIdx, parseIdx } from '../../src/data/idx-format.js';
import { DEBIAN_FASHION_MNIST, loadMnist, mnistNormalization, type MnistOptions } from '../../src/data/mnist.js';
import { sampleStats } from '../../src/data/normalization.js';
import { datasetName, datasetNormalization } from '../../src/data/sources.js';
import { Model } from '../../src/native/engine.js';
import type { Tensor } from '../../src/tensor.js';
import { runReference, tempDir } from '../helpers/python.js';

const quiet = (): void => {};
const npy = (path: string): Tensor => readNpy(new Uint8Array(readFileSync(path)));

/** The network's input for every `step`-th image of `set` (test transform: no crop, no flip). */
function networkInputs(set: ImageSet, step: number): Float32Array {
  const picked = Array.from({ length: Math.ceil(set.count / step) }, (_, k) => k * step);
  const images = new Uint8Array(picked.length * IMAGE_BYTES);
  picked.forEach((i, k) => images.set(set.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), k * IMAGE_BYTES));
  const model = new Model({ numClasses: 10, seed: 0 });
  const data = model.upload({ images, labels: new Int32Array(picked.length), normalization: set.normalization });
  return data.peek(0, picked.length).images.data;
}

function maxAbsDiff(a: Float32Array, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

const NO_DEBIAN_FASHION_MNIST = !existsSync(DEBIAN_FASHION_MNIST) && `no ${DEBIAN_FASHION_MNIST} (apt-get install dataset-fashion-mnist)`;

describe("Fashion-MNIST from Debian's dataset-fashion-mnist, against torchvision", { skip: NO_DEBIAN_FASHION_MNIST }, () => {
  const STEP = 100;
  const { dir, cleanup } = tempDir('fashion-ref');
  const { mean: [mean], std: [std] } = mnistNormalization('fashion-mnist');
  before(() => runReference('data_idx.py', ['fashion-mnist', DEBIAN_FASHION_MNIST, dir, String(mean), String(std), String(STEP)]));
  after(cleanup);

  for (const split of ['train', 'test'] as const) {
    test(`${split}: every label, and the network inputs of every ${STEP}th image (max difference 0)`, async () => {
      // An empty root: found in Debian's folder.
      const set = await loadMnist({ root: join(dir, 'empty'), dataset: 'fashion-mnist', split, download: false, log: quiet });
      assert.equal(set.count, split === 'train' ? 60000 : 10000);
      assert.equal(set.source, join(DEBIAN_FASHION_MNIST, `${split === 'train' ? 'train' : 't10k'}-images-idx3-ubyte.gz`));
      assert.deepEqual(Array.from(set.labels), Array.from(npy(join(dir, `${split}_labels.npy`)).data as Int32Array));
      const reference = npy(join(dir, `${split}_x.npy`));
      assert.deepEqual(reference.shape, [Math.ceil(set.count / STEP), 3, 32, 32]);
      assert.equal(maxAbsDiff(networkInputs(set, STEP), reference.data as Float32Array), 0);
      // torchvision's own layout (ROOT/FashionMNIST/raw, uncompressed), as the reference left it: the same set.
      const unpacked = await loadMnist({ root: join(dir, 'root'), dataset: 'fashion-mnist', split, download: false, systemRoot: null });
      assert.match(unpacked.source, /FashionMNIST\/raw\/(train|t10k)-images-idx3-ubyte$/);
      assert.ok(Buffer.compare(unpacked.images, set.images) === 0, 'the same images');
      assert.deepEqual(unpacked.labels, set.labels);
    });
  }

  test('the mean and std constants are those of the training images (28x28, before padding), to 4 digits', () => {
    const file = join(DEBIAN_FASHION_MNIST, 'train-images-idx3-ubyte.gz');
    const { data } = parseIdx(inflateIdx(readFileSync(file), file), file, 3);
    const stats = sampleStats(data);
    assert.equal(stats.mean.toFixed(4), mean.toFixed(4));
    assert.equal(stats.std.toFixed(4), std.toFixed(4));
  });
});

// --- fixtures ---------------------------------------------------------------------------------

function idxBytes(dims: number[], data: Uint8Array, type = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

const NAMES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

interface Written {
  grey: Uint8Array;
  labels: number[];
}

/** Writes a split of `count` random 28x28 images into `folder` (.gz when `gz`); returns what was written. */
function writeSplit(folder: string, split: 'train' | 'test', count: number, gz: boolean, seed: number): Written {
  mkdirSync(folder, { recursive: true });
  let s = seed;
  const next = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  const grey = Uint8Array.from({ length: count * 784 }, next);
  const labels = Array.from({ length: count }, () => next() % 10);
  const [images, labelsName] = NAMES[split];
  const write = (name: string, bytes: Buffer) => writeFileSync(join(folder, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  write(images, idxBytes([count, 28, 28], grey));
  write(labelsName, idxBytes([count], Uint8Array.from(labels)));
  return { grey, labels };
}

function options(root: string, extra: Partial<MnistOptions> = {}): MnistOptions {
  return { root, dataset: 'mnist', split: 'train', download: false, systemRoot: null, log: quiet, ...extra };
}

describe('layouts and the transform', () => {
  const { dir, cleanup } = tempDir('mnist-layout');
  after(cleanup);

  test('each image is zero-padded by 2 to 32x32 and replicated to 3 planes; normalisation per dataset', async () => {
    const root = join(dir, 'plain');
    const written = writeSplit(root, 'train', 5, false, 1);
    const set = await loadMnist(options(root));
    assert.deepEqual([set.count, set.numClasses], [5, 10]);
    assert.deepEqual(Array.from(set.labels), written.labels);
    for (let i = 0; i < 5; i++) {
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 32; y++) {
          for (let x = 0; x < 32; x++) {
            const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
            const want = inside ? written.grey[i * 784 + (y - 2) * 28 + (x - 2)]! : 0;
            const got = set.images[i * IMAGE_BYTES + c * 1024 + y * 32 + x]!;
            if (got !== want) assert.fail(`image ${i} channel ${c} (${y}, ${x}): ${got}, expected ${want}`);
          }
        }
      }
    }
    assert.deepEqual(set.normalization, mnistNormalization('mnist'));
    assert.deepEqual(datasetNormalization('Fashion-MNIST'), mnistNormalization('fashion-mnist'));
    assert.equal(datasetName('MNIST'), 'mnist');
    // On the device, a padded pixel normalises to -mean/std with MNIST's constants, not CIFAR's.
    const first = networkInputs(set, 5)[0]!;
    assert.equal(first, Math.fround(Math.fround(0 - Math.fround(0.1307)) / Math.fround(0.3081)));
  });

  test('ROOT/<MNIST|FashionMNIST>/raw wins over ROOT, which wins over the system folder; raw or .gz', async () => {
    const root = join(dir, 'order');
    const torchvision = writeSplit(join(root, 'FashionMNIST', 'raw'), 'test', 3, false, 2);
    const inRoot = writeSplit(root, 'test', 4, true, 3);
    const system = writeSplit(join(dir, 'system'), 'test', 6, true, 4);
    const fashion = (r: string, systemRoot: string | null = join(dir, 'system')) =>
      loadMnist(options(r, { dataset: 'fashion-mnist', split: 'test', systemRoot }));
    assert.deepEqual(Array.from((await fashion(root)).labels), torchvision.labels);
    rmSync(join(root, 'FashionMNIST'), { recursive: true });
    assert.deepEqual(Array.from((await fashion(root)).labels), inRoot.labels);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    assert.deepEqual(Array.from((await fashion(empty)).labels), system.labels);
    const missing = await fashion(empty, null).catch((e: Error) => e.message);
    assert.match(String(missing), /^Fashion-MNIST is not in .*empty\/FashionMNIST\/raw, .*empty and downloading is off\. To install/);
    assert.match(String(missing), /by hand: .*t10k-labels-idx1-ubyte\.gz \(md5 bb300cfdad3c16e7a12a480ee83cd310\)/);
  });
});

describe('bad idx files: one line naming the file', () => {
  const { dir, cleanup } = tempDir('mnist-bad');
  after(cleanup);
  const images = (root: string) => join(root, 'train-images-idx3-ubyte');
  const labels = (root: string) => join(root, 'train-labels-idx1-ubyte');

  async function refusal(name: string, change: (root: string) => void): Promise<string> {
    const root = join(dir, name);
    writeSplit(root, 'train', 5, false, 7);
    change(root);
    const message = await loadMnist(options(root)).then(
      () => assert.fail(`${name}: expected an error`),
      (e: Error) => e.message,
    );
    assert.ok(!message.includes('\n'), `one line: ${message}`);
    assert.ok(message.includes(root), `names the file: ${message}`);
    return message;
  }

  const pixels = new Uint8Array(5 * 784);
  const cases: Array<[string, (root: string) => void, RegExp]> = [
    [
      'magic',
      (r) => writeFileSync(images(r), Buffer.from('PK\x03\x04rest', 'latin1')),
      /train-images-idx3-ubyte: not an idx file \(magic 504b0304, expected 00000803\)$/,
    ],
    [
      'type',
      (r) => writeFileSync(images(r), idxBytes([5, 28, 28], new Uint8Array(5 * 784 * 4), 0x0d)),
      /values of type 0xd, expected 0x08/,
    ],
    ['ndims', (r) => writeFileSync(images(r), idxBytes([5, 784], pixels)), /train-images-idx3-ubyte: 2 dimensions, expected 3/],
    ['header', (r) => writeFileSync(images(r), Buffer.from([0, 0, 8, 3, 0, 0])), /truncated: 6 bytes, the header alone takes 16$/],
    [
      'truncated',
      (r) => writeFileSync(images(r), idxBytes([5, 28, 28], pixels).subarray(0, 16 + 5 * 784 - 10)),
      /truncated: 3926 bytes, the header \(5 x 28 x 28\) needs 3936$/,
    ],
    [
      'trailing',
      (r) => writeFileSync(images(r), Buffer.concat([idxBytes([5, 28, 28], pixels), Buffer.alloc(3)])),
      /trailing bytes: 3939 bytes/,
    ],
    [
      'size',
      (r) => writeFileSync(images(r), idxBytes([5, 20, 20], new Uint8Array(5 * 400))),
      /train-images-idx3-ubyte: images of 20x20, expected 28x28$/,
    ],
    [
      'count',
      (r) => writeFileSync(labels(r), idxBytes([4], new Uint8Array(4))),
      /train-labels-idx1-ubyte: 4 labels for the 5 images of .*train-images-idx3-ubyte$/,
    ],
    [
      'label',
      (r) => writeFileSync(labels(r), idxBytes([5], Uint8Array.from([1, 2, 10, 3, 4]))),
      /train-labels-idx1-ubyte: label 10 of image 2 is outside 0\.\.9$/,
    ],
    [
      'no labels',
      (r) => rmSync(labels(r)),
      /: has .*train-images-idx3-ubyte but no train-labels-idx1-ubyte or train-labels-idx1-ubyte\.gz$/,
    ],
    [
      'gzip',
      (r) => writeFileSync(images(r), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6])),
      /train-images-idx3-ubyte: cannot decompress: /,
    ],
    [
      'fifo',
      (r) => { rmSync(images(r)); execFileSync('mkfifo', [images(r)]); },
      /train-images-idx3-ubyte: cannot read: is a FIFO, not a regular file$/,
    ],
    [
      'fifo .gz',
      (r) => { rmSync(images(r)); execFileSync('mkfifo', [`${images(r)}.gz`]); },
      /train-images-idx3-ubyte\.gz: cannot read: is a FIFO, not a regular file$/,
    ],
  ];
  for (const [name, change, pattern] of cases) {
    // The timeout turns a hang (a FIFO read as a file) into a failure.
    test(name, { timeout: 20_000 }, async () => assert.match(await refusal(name, change), pattern));
  }

  test('a deflate bomb: refused at the inflation cap, not inflated whole', async () => {
    const bomb = gzipSync(Buffer.alloc(IDX_MAX_BYTES + 1024));
    assert.ok(bomb.length < 2 << 20, 'a small file');
    const message = await refusal('bomb', (r) => {
      rmSync(images(r));
      writeFileSync(`${images(r)}.gz`, bomb);
    });
    assert.match(message, new RegExp(`train-images-idx3-ubyte\\.gz: cannot decompress: inflates to more than ${IDX_MAX_BYTES} bytes$`));
  });
});

describe('download (a local HTTP server)', () => {
  const { dir, cleanup } = tempDir('mnist-download');
  const served = new Map<string, Buffer>();
  const md5s: Record<string, string> = {};
  const requests: string[] = [];
  let server: Server;
  let base = '';
  let written: Written;
  before(async () => {
    const staging = join(dir, 'staging');
    written = writeSplit(staging, 'train', 7, true, 9);
    writeSplit(staging, 'test', 3, true, 10);
    for (const name of readdirSync(staging)) {
      const bytes = readFileSync(join(staging, name));
      served.set(`/mirror/${name}`, bytes);
      md5s[name] = createHash('md5').update(bytes).digest('hex');
    }
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const body = served.get(req.url ?? '');
      if (body) res.writeHead(200, { 'content-length': body.length }).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    cleanup();
  });

  /** Nothing but the dataset folder (or nothing at all) is left under root: no temporary folder. */
  function leftovers(root: string): string[] {
    return existsSync(join(root, 'MNIST')) ? readdirSync(join(root, 'MNIST')) : [];
  }

  test(`from $WMNN_MNIST_URL: the four files md5-checked into ROOT/MNIST/raw, used without a request next time`, async () => {
    const root = join(dir, 'good');
    process.env.WMNN_MNIST_URL = `${base}/mirror`;
    try {
      const lines: string[] = [];
      const set = await loadMnist(options(root, { download: true, md5s, log: (l) => lines.push(l) }));
      assert.deepEqual(Array.from(set.labels), written.labels);
      assert.deepEqual(lines, [`Downloading MNIST from ${base}/mirror to ${join(root, 'MNIST', 'raw')}`]);
      assert.deepEqual(leftovers(root), ['raw']);
      assert.equal(requests.filter((r) => r.startsWith('/mirror/')).length, 4);
      requests.length = 0;
      const test = await loadMnist(options(root, { download: true, md5s, split: 'test' }));
      assert.equal(test.count, 3);
      assert.deepEqual(requests, []);
    } finally {
      delete process.env.WMNN_MNIST_URL;
    }
  });

  test('an md5 other than the published one, a missing file, an unreachable host: an error, nothing installed', async () => {
    const root = join(dir, 'bad');
    const wrong = await loadMnist(options(root, { download: true, url: `${base}/mirror/` })).catch((e: Error) => e.message);
    assert.match(String(wrong), /^Cannot download MNIST from .*\/mirror\/train-images-idx3-ubyte\.gz: the file's md5 is [0-9a-f]{32}, /);
    assert.match(String(wrong), /, not f68b3c2dcbeaaa9fbdd348bbdeb94873; nothing was installed\. To install MNIST by hand/);
    const missing = await loadMnist(options(root, { download: true, url: `${base}/nothing/` })).catch((e: Error) => e.message);
    assert.match(String(missing), /nothing\/train-images-idx3-ubyte\.gz: HTTP 404/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const offline = await loadMnist(options(root, { download: true, url: `http://127.0.0.1:${port}/` })).catch((e: Error) => e.message);
    assert.match(String(offline), /unreachable \(ECONNREFUSED\)\. To install MNIST by hand: /);
    assert.match(String(offline), /download train-images-idx3-ubyte\.gz \(md5 f68b3c2dcbeaaa9fbdd348bbdeb94873\)/);
    assert.deepEqual(leftovers(root), []);
  });
});
