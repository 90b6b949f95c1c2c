// CIFAR readers against torchvision: fake datasets written by Python load to the same arrays in
// both on-disk formats; missing, incomplete, corrupt and non-official files are refused clearly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CIFAR_VERIFY_ENV, loadCifar, type CifarName, type Split } from '../../src/data/cifar.js';
import { runPython, referenceScript } from '../helpers/python.js';

type Expected = Record<Split, { images: Uint8Array; labels: number[] }>;

/** Writes a fake dataset under root and returns what torchvision reads (python) or what was written (binary). */
function makeCifar(root: string, name: CifarName, format: 'python' | 'binary', seed: number): Expected {
  const made = runPython([referenceScript('data_make_cifar.py'), root, name, format, String(seed)]);
  const out = JSON.parse(made) as Record<Split, { images: string; labels: number[] }>;
  const decode = (s: Split) => ({ images: new Uint8Array(Buffer.from(out[s].images, 'base64')), labels: out[s].labels });
  return { train: decode('train'), test: decode('test') };
}

const quiet = (): void => {};

for (const name of ['cifar10', 'cifar100'] as const) {
  describe(`${name}: python and binary formats`, () => {
    let pythonRoot = '';
    let binaryRoot = '';
    let fromPython: Expected;
    let fromBinary: Expected;
    before(() => {
      pythonRoot = mkdtempSync(join(tmpdir(), 'wmnn-cifar-py-'));
      binaryRoot = mkdtempSync(join(tmpdir(), 'wmnn-cifar-bin-'));
      fromPython = makeCifar(pythonRoot, name, 'python', 11);
      fromBinary = makeCifar(binaryRoot, name, 'binary', 11);
    });
    after(() => {
      rmSync(pythonRoot, { recursive: true, force: true });
      rmSync(binaryRoot, { recursive: true, force: true });
    });

    for (const split of ['train', 'test'] as const) {
      test(`${split}: the python format loads to torchvision's arrays`, async () => {
        const set = await loadCifar({ root: pythonRoot, dataset: name, split, download: false, verify: false, log: quiet });
        assert.equal(set.numClasses, name === 'cifar10' ? 10 : 100);
        assert.equal(set.count, fromPython[split].labels.length);
        assert.deepEqual([...set.labels], fromPython[split].labels);
        assert.ok(Buffer.compare(set.images, fromPython[split].images) === 0, 'images equal');
      });

      test(`${split}: the binary format loads to the same arrays`, async () => {
        const set = await loadCifar({ root: binaryRoot, dataset: name, split, download: false, log: quiet });
        assert.deepEqual(fromBinary[split], fromPython[split], 'the fixture wrote one dataset twice');
        assert.deepEqual([...set.labels], fromBinary[split].labels);
        assert.ok(Buffer.compare(set.images, fromBinary[split].images) === 0, 'images equal');
        assert.match(set.source, /cifar-10-batches-bin|cifar-100-binary/);
      });
    }

    test('files that are not the official ones are refused when verifying (the default), and load with WMNN_CIFAR_VERIFY=0', async () => {
      const error = await loadCifar({ root: pythonRoot, dataset: name, split: 'test', download: true, log: quiet }).catch((e: Error) => e);
      assert.match(String(error), /md5 [0-9a-f]{32} is not that of the official CIFAR-10{0,2} file \([0-9a-f]{32}\)/);
      assert.match(String(error), /loads with WMNN_CIFAR_VERIFY=0\)$/);
      process.env[CIFAR_VERIFY_ENV] = '0';
      try {
        const set = await loadCifar({ root: pythonRoot, dataset: name, split: 'test', download: true, log: quiet });
        assert.deepEqual([...set.labels], fromPython.test.labels);
      } finally {
        delete process.env[CIFAR_VERIFY_ENV];
      }
    });
  });
}

describe('refusals', () => {
  let root = '';
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'wmnn-cifar-err-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('nothing there and downloading off: the manual steps', async () => {
    const error = await loadCifar({ root, dataset: 'cifar100', split: 'train', download: false, log: quiet }).catch((e: Error) => e);
    assert.match(String(error), /CIFAR-100 is not in .* and downloading is off/);
    assert.match(String(error), /cifar-100-python\.tar\.gz \(md5 eb9058c3a382ffc7106e4002c42a8d85\)/);
    assert.match(String(error), /tar -xzf cifar-100-python\.tar\.gz -C /);
  });

  test('an incomplete folder, a bad label, a truncated binary file', async () => {
    makeCifar(root, 'cifar10', 'python', 3);
    rmSync(join(root, 'cifar-10-batches-py', 'data_batch_4'));
    const incomplete = await loadCifar({ root, dataset: 'cifar10', split: 'train', download: true, verify: false, log: quiet }).catch(
      (e: Error) => e,
    );
    assert.match(String(incomplete), /cifar-10-batches-py: incomplete, missing data_batch_4/);

    const bin = mkdtempSync(join(tmpdir(), 'wmnn-cifar-err-bin-'));
    try {
      makeCifar(bin, 'cifar10', 'binary', 3);
      const file = join(bin, 'cifar-10-batches-bin', 'test_batch.bin');
      const bytes = readFileSync(file);
      bytes[3073] = 10; // label of the second record
      writeFileSync(file, bytes);
      const binTest = { root: bin, dataset: 'cifar10', split: 'test', download: false, log: quiet } as const;
      const badLabel = await loadCifar(binTest).catch((e: Error) => e);
      assert.match(String(badLabel), /label 10 of image 1 is outside 0\.\.9/);
      writeFileSync(file, bytes.subarray(0, bytes.length - 1));
      const truncated = await loadCifar(binTest).catch((e: Error) => e);
      assert.match(String(truncated), /test_batch\.bin: \d+ bytes is not a whole number of 3073-byte CIFAR records/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test('a FIFO in place of a batch file is refused at once, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wmnn-cifar-err-fifo-'));
    try {
      for (const format of ['python', 'binary'] as const) makeCifar(dir, 'cifar10', format, 5);
      for (const file of ['cifar-10-batches-py/test_batch', 'cifar-10-batches-bin/test_batch.bin']) {
        rmSync(join(dir, file));
        execFileSync('mkfifo', [join(dir, file)]);
      }
      const python = await loadCifar({ root: dir, dataset: 'cifar10', split: 'test', download: false, log: quiet }).catch((e: Error) => e);
      assert.match(String(python), /cifar-10-batches-py\/test_batch: cannot read: is a FIFO, not a regular file$/);
      rmSync(join(dir, 'cifar-10-batches-py'), { recursive: true });
      const binary = await loadCifar({ root: dir, dataset: 'cifar10', split: 'test', download: false, log: quiet }).catch((e: Error) => e);
      assert.match(String(binary), /cifar-10-batches-bin\/test_batch\.bin: cannot read: is a FIFO, not a regular file$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a python file that is not a CIFAR pickle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wmnn-cifar-err-pk-'));
    try {
      makeCifar(dir, 'cifar100', 'python', 4);
      writeFileSync(join(dir, 'cifar-100-python', 'test'), Buffer.from('\x80\x02}q\x00.', 'latin1'));
      const options = { root: dir, dataset: 'cifar100', split: 'test', download: false, verify: false, log: quiet } as const;
      const error = await loadCifar(options).catch((e: Error) => e);
      assert.match(String(error), /cifar-100-python\/test: 'data' is not a uint8 array/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
