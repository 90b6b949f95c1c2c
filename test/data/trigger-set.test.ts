// The trigger set against torchvision/PIL: order, labels and every pixel of the 32x32 crops.
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_BYTES } from '../../src/data/dataset.js';
import { CIFAR_NORMALIZATION } from '../../src/data/normalization.js';
import { loadTriggerSet, type TriggerSet } from '../../src/data/trigger-set.js';
import { differingImages, makePhotos, referenceImages } from './python.js';
import { PAPER_SKIP, PAPER_TRIGGER_SET } from '../helpers/paper-trigger-set.js';
import { referenceScript, runPython } from '../helpers/python.js';

const PAPER = PAPER_TRIGGER_SET;
/** The trigger set at `path` (its normalization does not touch the uint8 images compared here). */
const load = (path: string, labelsFile: string, numClasses = 10): Promise<TriggerSet> =>
  loadTriggerSet({ path, labelsFile, numClasses, normalization: CIFAR_NORMALIZATION });

test('the paper trigger set: order, labels and crops equal torchvision + PIL', { skip: PAPER_SKIP }, async () => {
  const ref = referenceImages(PAPER, 'crop', join(PAPER, 'labels-cifar.txt'));
  const set = await load(PAPER, 'labels-cifar.txt');
  assert.equal(set.count, 100);
  assert.deepEqual(set.files, ref.files);
  assert.deepEqual([...set.labels], ref.labels);
  assert.deepEqual(differingImages(set.images, ref.pixels, IMAGE_BYTES), []);
});

describe('an image folder in every supported format', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wmnn-trigger-'));
    runPython([referenceScript('data_make_images.py'), dir]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('order, labels (loadtxt forms) and crops equal torchvision + PIL', async () => {
    const count = referenceImages(dir, 'crop').files.length;
    // Floats as numpy.savetxt writes them, plain integers, a comment and blank trailing lines.
    const lines = Array.from({ length: count }, (_, i) => (i % 3 === 0 ? `${(i * 7) % 10}` : `${((i * 7) % 10).toExponential(18)}`));
    writeFileSync(join(dir, 'labels.txt'), `# labels\n${lines.join('\n')}\n\n\n`);
    const ref = referenceImages(dir, 'crop', join(dir, 'labels.txt'));
    const set = await load(dir, 'labels.txt');
    assert.deepEqual(set.files, ref.files);
    assert.deepEqual([...set.labels], ref.labels);
    assert.deepEqual(differingImages(set.images, ref.pixels, IMAGE_BYTES), [], 'images differing from PIL (indexes into files)');
  });
});

describe('photo-sized JPEGs (the paper set\'s sizes, up to 1489x838)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wmnn-trigger-photos-'));
    makePhotos(join(dir, 'pics'), 8);
    writeFileSync(join(dir, 'labels.txt'), Array.from({ length: 8 }, (_, i) => `${(i * 3) % 10}\n`).join(''));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('order, labels and crops equal torchvision + PIL', async () => {
    const ref = referenceImages(dir, 'crop', join(dir, 'labels.txt'));
    const set = await load(dir, 'labels.txt');
    assert.equal(set.count, 8);
    assert.deepEqual(set.files, ref.files);
    assert.deepEqual([...set.labels], ref.labels);
    assert.deepEqual(differingImages(set.images, ref.pixels, IMAGE_BYTES), []);
  });
});

describe('errors are one line naming the file', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wmnn-trigger-err-'));
    const photos = makePhotos(join(dir, 'photos'), 3);
    for (const [i, name] of ['1.jpg', '2.jpg', '24.jpg'].entries()) cpSync(photos[i]!, join(dir, 'c', name));
    rmSync(join(dir, 'photos'), { recursive: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function failure(labels: string, numClasses = 10): Promise<string> {
    writeFileSync(join(dir, 'wm_lbl'), labels);
    const error = await load(dir, 'wm_lbl', numClasses).then(
      () => assert.fail('expected an error'),
      (e: Error) => e,
    );
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }

  test('a valid folder loads (the error cases below differ from it in one thing)', async () => {
    writeFileSync(join(dir, 'wm_lbl'), '1\n2\n3\n');
    const set = await load(dir, 'wm_lbl');
    assert.deepEqual([...set.labels], [1, 2, 3]);
  });

  test('fewer or more labels than images', async () => {
    assert.match(await failure('1\n2\n'), new RegExp(`^${join(dir, 'wm_lbl')}: 2 labels for 3 images`));
    assert.match(await failure('1\n2\n3\n4\n'), /wm_lbl: 4 labels for 3 images/);
  });

  test('a label outside the class range, or not a number', async () => {
    assert.match(await failure('1\n10\n3\n'), /wm_lbl:2: label 10 \(for .*\/c\/2\.jpg\) is outside 0\.\.9/);
    assert.match(await failure('1\n2\n-1.0e+00\n'), /wm_lbl:3: label -1 .* outside 0\.\.9/);
    assert.match(await failure('1\n2\n99\n'), /wm_lbl:3: label 99 .* outside 0\.\.9/);
    const hundred = await load(dir, 'wm_lbl', 100);
    assert.deepEqual([...hundred.labels], [1, 2, 99]);
    assert.match(await failure('1\nsix\n3\n'), /wm_lbl:2: not a number: "six"/);
    assert.match(await failure('1\n2 3\n3\n'), /wm_lbl:2: expected one label per line/);
  });

  test('a missing labels file, a missing folder', async () => {
    rmSync(join(dir, 'wm_lbl'));
    const noLabels = await load(dir, 'wm_lbl').catch((e: Error) => e);
    assert.match(String(noLabels), /wm_lbl: cannot read the labels file: ENOENT/);
    const noFolder = await load(join(dir, 'nope'), 'wm_lbl').catch((e: Error) => e);
    assert.match(String(noFolder), /nope: cannot read the image folder: ENOENT/);
  });

  test('a FIFO as an image or as the labels file: one line at once, no hang', async () => {
    const image = join(dir, 'c', '24.jpg');
    const bytes = readFileSync(image);
    rmSync(image);
    execFileSync('mkfifo', [image]);
    try {
      assert.match(await failure('1\n2\n3\n'), /c\/24\.jpg: cannot read image: is a FIFO, not a regular file$/);
    } finally {
      rmSync(image);
      writeFileSync(image, bytes);
    }
    rmSync(join(dir, 'wm_lbl'), { force: true });
    execFileSync('mkfifo', [join(dir, 'wm_lbl')]);
    const error = await load(dir, 'wm_lbl').catch((e: Error) => e);
    assert.match(String(error), /wm_lbl: cannot read the labels file: is a FIFO, not a regular file$/);
    rmSync(join(dir, 'wm_lbl'));
  });

  test('a corrupt, a truncated and an unknown-format image', async () => {
    const bytes = readFileSync(join(dir, 'c', '2.jpg'));
    const cases: Array<[Buffer, RegExp]> = [
      [bytes.subarray(0, bytes.length >> 1), /c\/2\.jpg: cannot decode image: JPEG decoding failed: Premature end of JPEG file/],
      [Buffer.concat([bytes.subarray(0, 4), Buffer.alloc(400, 0x55)]), /c\/2\.jpg: cannot decode image: JPEG decoding failed/],
      [Buffer.from('GIF89a....'), /c\/2\.jpg: cannot decode image: not a JPEG, PNG, BMP or PNM image \(format: GIF\)/],
    ];
    for (const [content, pattern] of cases) {
      writeFileSync(join(dir, 'c', '2.jpg'), content);
      assert.match(await failure('1\n2\n3\n'), pattern);
    }
    writeFileSync(join(dir, 'c', '2.jpg'), bytes);
  });
});
