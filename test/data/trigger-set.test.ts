// The trigger set against torchvision/PIL: order, labels and every pixel of the 32x32 crops.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_BYTES } from '../../src/data/dataset.js';
import { loadTriggerSet } from '../../src/data/trigger-set.js';
import { differingImages, referenceImages } from './python.js';
import { PAPER_TRIGGER_SET, referenceScript, runPython } from '../helpers/python.js';

const PAPER = PAPER_TRIGGER_SET;

test('the paper trigger set: order, labels and crops equal torchvision + PIL', async () => {
  const ref = referenceImages(PAPER, 'crop', join(PAPER, 'labels-cifar.txt'));
  const set = await loadTriggerSet({ path: PAPER, labelsFile: 'labels-cifar.txt', numClasses: 10 });
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
    const set = await loadTriggerSet({ path: dir, labelsFile: 'labels.txt', numClasses: 10 });
    assert.deepEqual(set.files, ref.files);
    assert.deepEqual([...set.labels], ref.labels);
    assert.deepEqual(differingImages(set.images, ref.pixels, IMAGE_BYTES), [], 'images differing from PIL (indexes into files)');
  });
});

describe('errors are one line naming the file', () => {
  let dir = '';
  const source = join(PAPER, 'pics');
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wmnn-trigger-err-'));
    for (const name of ['1.jpg', '2.jpg', '24.jpg']) cpSync(join(source, name), join(dir, 'c', name));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function failure(labels: string, numClasses = 10): Promise<string> {
    writeFileSync(join(dir, 'wm_lbl'), labels);
    const error = await loadTriggerSet({ path: dir, labelsFile: 'wm_lbl', numClasses }).then(
      () => assert.fail('expected an error'),
      (e: Error) => e,
    );
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }

  test('a valid folder loads (the error cases below differ from it in one thing)', async () => {
    writeFileSync(join(dir, 'wm_lbl'), '1\n2\n3\n');
    const set = await loadTriggerSet({ path: dir, labelsFile: 'wm_lbl', numClasses: 10 });
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
    const hundred = await loadTriggerSet({ path: dir, labelsFile: 'wm_lbl', numClasses: 100 });
    assert.deepEqual([...hundred.labels], [1, 2, 99]);
    assert.match(await failure('1\nsix\n3\n'), /wm_lbl:2: not a number: "six"/);
    assert.match(await failure('1\n2 3\n3\n'), /wm_lbl:2: expected one label per line/);
  });

  test('a missing labels file, a missing folder', async () => {
    rmSync(join(dir, 'wm_lbl'));
    const noLabels = await loadTriggerSet({ path: dir, labelsFile: 'wm_lbl', numClasses: 10 }).catch((e: Error) => e);
    assert.match(String(noLabels), /wm_lbl: cannot read the labels file: ENOENT/);
    const noFolder = await loadTriggerSet({ path: join(dir, 'nope'), labelsFile: 'wm_lbl', numClasses: 10 }).catch((e: Error) => e);
    assert.match(String(noFolder), /nope: cannot read the image folder: ENOENT/);
  });

  test('a corrupt, a truncated and an unknown-format image', async () => {
    const bytes = readFileSync(join(source, '2.jpg'));
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
