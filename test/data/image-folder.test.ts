// `--dataset imagefolder` against torchvision's ImageFolder + Resize((32, 32)) on PIL images.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_BYTES } from '../../src/data/dataset.js';
import { loadImageFolder } from '../../src/data/image-folder.js';
import { resizeBilinear } from '../../src/data/resize.js';
import { differingImages, makePhotos, referenceImages } from './python.js';
import { referenceScript, runPython } from '../helpers/python.js';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'wmnn-imagefolder-'));
  // train: every format and size (upscaling and shrinking), plus photo-sized JPEGs (strong shrinking).
  runPython([referenceScript('data_make_images.py'), join(root, 'train')]);
  makePhotos(join(root, 'train', 'c-photos'), 6);
  // test: a subset of the classes, so labels must follow train's class list.
  runPython([referenceScript('data_make_images.py'), join(root, 'test')]);
  rmSync(join(root, 'test', 'a'), { recursive: true });
});
after(() => rmSync(root, { recursive: true, force: true }));

test('train: order, class labels and resized pixels equal torchvision', async () => {
  const ref = referenceImages(join(root, 'train'), 'resize');
  const set = await loadImageFolder({ root, split: 'train' });
  assert.deepEqual(set.classes, ['a', 'b', 'c-photos']);
  assert.deepEqual(set.files, ref.files);
  assert.deepEqual([...set.labels], ref.targets);
  assert.deepEqual(differingImages(set.images, ref.pixels, IMAGE_BYTES), [], 'images differing from PIL (indexes into files)');
});

test("test: labels are train's class indexes", async () => {
  const set = await loadImageFolder({ root, split: 'test' });
  assert.equal(set.numClasses, 3);
  assert.ok(set.labels.every((l) => l === 1), 'every test image is in class b, index 1 in train');
  mkdirSync(join(root, 'test', 'zzz'));
  symlinkSync(join(root, 'train', 'a', '1.png'), join(root, 'test', 'zzz', '1.png'));
  const error = await loadImageFolder({ root, split: 'test' }).catch((e: Error) => e);
  assert.match(String(error), /test\/zzz: class folder not in .*train \(classes: a, b, c-photos\)/);
  rmSync(join(root, 'test', 'zzz'), { recursive: true });
});

test('resizeBilinear keeps a same-size image and is exact on constant images', () => {
  const data = new Uint8Array(40 * 30 * 3).map((_, i) => i % 3 === 0 ? 200 : i % 3 === 1 ? 7 : 0);
  const same = resizeBilinear({ width: 40, height: 30, data }, 40, 30);
  assert.deepEqual(same.data, data);
  const small = resizeBilinear({ width: 40, height: 30, data }, 32, 32);
  assert.ok(small.data.every((v, i) => v === [200, 7, 0][i % 3]));
});

test('a FIFO among the images: one line naming it, at once (no hang)', { timeout: 20_000 }, async () => {
  const fifoRoot = join(root, 'fifo');
  mkdirSync(join(fifoRoot, 'train', 'a'), { recursive: true });
  copyFileSync(join(root, 'train', 'a', '1.png'), join(fifoRoot, 'train', 'a', '1.png'));
  execFileSync('mkfifo', [join(fifoRoot, 'train', 'a', '2.jpg')]);
  const message = await loadImageFolder({ root: fifoRoot, split: 'train' }).then(
    () => assert.fail('expected an error'),
    (e: Error) => e.message,
  );
  assert.match(message, /^\S*fifo\/train\/a\/2\.jpg: cannot read image: is a FIFO, not a regular file$/);
});
