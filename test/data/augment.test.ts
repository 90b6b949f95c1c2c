// Batching on the device against torchvision: the train transform with given crop offsets and
// flips, the trigger-set tensors the network sees, and the statistics of the epoch's draws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../src/checkpoint/npy.js';
import { synthetic } from '../../src/data/synthetic.js';
import { CIFAR_NORMALIZATION } from '../../src/data/normalization.js';
import { loadTriggerSet } from '../../src/data/trigger-set.js';
import { loadBinding } from '../../src/native/binding.js';
import { Model } from '../../src/native/engine.js';
import type { Tensor } from '../../src/tensor.js';
import { PAPER_SKIP, PAPER_TRIGGER_SET } from '../helpers/paper-trigger-set.js';
import { runReference, tempDir } from '../helpers/python.js';
import { makePhotos } from './python.js';

const { mean: MEAN, std: STD } = CIFAR_NORMALIZATION;

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  let worst = 0;
  for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return worst;
}

const npy = (path: string): Tensor => readNpy(new Uint8Array(readFileSync(path)));

test('crop + flip + normalise equals torchvision\'s train transform for given draws', (t) => {
  const { dir, cleanup } = tempDir('augment');
  t.after(cleanup);
  const n = 40;
  const set = synthetic({ split: 'train', count: n, seed: 3 });
  const dx = Int32Array.from({ length: n }, (_, i) => i % 9);
  const dy = Int32Array.from({ length: n }, (_, i) => (i * 5) % 9);
  const flip = Int32Array.from({ length: n }, (_, i) => (i >> 1) & 1);
  const ours = loadBinding().augment(set.images, dx, dy, flip, Float32Array.from(MEAN), Float32Array.from(STD));
  const save = (name: string, t: Tensor) => writeFileSync(join(dir, name), writeNpy(t));
  save('u8.npy', { dtype: 'uint8', shape: [n, 3, 32, 32], data: set.images });
  save('dx.npy', { dtype: 'int32', shape: [n], data: dx });
  save('dy.npy', { dtype: 'int32', shape: [n], data: dy });
  save('flip.npy', { dtype: 'int32', shape: [n], data: flip });
  runReference('augment_ref.py', ['crop', ...['u8', 'dx', 'dy', 'flip', 'out'].map((f) => join(dir, `${f}.npy`))]);
  assert.equal(maxAbsDiff(ours, npy(join(dir, 'out.npy'))), 0);
  // Padded pixels normalise to -mean/std, not 0 (the uint8 image is padded).
  assert.ok(Math.abs((ours.data[0] ?? 0) - -MEAN[0]! / STD[0]!) < 1e-6, 'image 0 (dx=dy=0) starts in the padding');
});

/** The trigger set at `folder` as the network sees it, against torchvision's transform of the same files. */
async function triggerTensorsMatch(folder: string, labelsFile: string, dir: string): Promise<void> {
  const wm = await loadTriggerSet({ path: folder, labelsFile, numClasses: 10, normalization: CIFAR_NORMALIZATION });
  const model = new Model({ numClasses: 10, seed: 0 });
  const data = model.upload(wm);
  data.newEpoch(false, false, 0);
  const ours = data.peek(0, wm.count);
  runReference('augment_ref.py', ['wm', folder, labelsFile, join(dir, 'wm.npy')]);
  assert.equal(maxAbsDiff(ours.images, npy(join(dir, 'wm.npy'))), 0);
  assert.deepEqual(Array.from(ours.labels), Array.from(wm.labels));
}

test('the trigger-set tensors the network sees equal torchvision\'s (max difference 0), in the original\'s order', async (t) => {
  const { dir, cleanup } = tempDir('wm-tensors');
  t.after(cleanup);
  const folder = join(dir, 'trigger');
  makePhotos(join(folder, 'pics'), 6);
  runReference('data_make_images.py', [join(folder, 'more')]);
  const count = readdirSync(folder, { recursive: true }).filter((f) => /\.(jpe?g|png|bmp|p[pg]m)$/i.test(String(f))).length;
  writeFileSync(join(folder, 'labels.txt'), Array.from({ length: count }, (_, i) => `${i % 10}\n`).join(''));
  await triggerTensorsMatch(folder, 'labels.txt', dir);
});

test('the same on the paper\'s trigger set', { skip: PAPER_SKIP }, async (t) => {
  const { dir, cleanup } = tempDir('wm-tensors');
  t.after(cleanup);
  await triggerTensorsMatch(PAPER_TRIGGER_SET, 'labels-cifar.txt', dir);
});

test('per-epoch draws: crop offsets uniform on 0..8, flip rate 0.5, a permutation per epoch', () => {
  // Each pixel encodes its source position (red = row + 10, green = column + 10), so the crop
  // offset and the flip can be read back from the augmented batch.
  const n = 4500;
  const images = new Uint8Array(n * 3072);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        images[i * 3072 + y * 32 + x] = y + 10;
        images[i * 3072 + 1024 + y * 32 + x] = x + 10;
      }
    }
  }
  const labels = Int32Array.from({ length: n }, (_, i) => i); // item ids, to read the order back
  const model = new Model({ numClasses: 10, seed: 0 });
  const data = model.upload({ images, labels, normalization: CIFAR_NORMALIZATION });
  const value = (v: number, c: number) => Math.round((v * STD[c]! + MEAN[c]!) * 255);
  const dxCount = new Array<number>(9).fill(0);
  const dyCount = new Array<number>(9).fill(0);
  let flips = 0;
  data.newEpoch(true, true, 42);
  const b = data.peek(0, n);
  for (let i = 0; i < n; i++) {
    const at = (c: number, y: number, x: number) => value(b.images.data[i * 3072 + c * 1024 + y * 32 + x]!, c);
    const row = at(0, 16, 16) - 10; // source row of output row 16 = 16 + dy - 4
    const colLeft = at(1, 16, 15) - 10;
    const colRight = at(1, 16, 16) - 10;
    const flipped = colRight < colLeft;
    const dy = row - 16 + 4;
    const dx = flipped ? colRight - (31 - 16) + 4 : colRight - 16 + 4;
    assert.ok(dx >= 0 && dx <= 8 && dy >= 0 && dy <= 8, `image ${i}: dx ${dx}, dy ${dy}`);
    dxCount[dx]! += 1;
    dyCount[dy]! += 1;
    flips += flipped ? 1 : 0;
  }
  // Chi-square with 8 degrees of freedom: 26.1 is the 0.001 critical value.
  const chi2 = (counts: number[]) => counts.reduce((s, c) => s + (c - n / 9) ** 2 / (n / 9), 0);
  assert.ok(chi2(dxCount) < 26.1, `dx counts ${dxCount}`);
  assert.ok(chi2(dyCount) < 26.1, `dy counts ${dyCount}`);
  assert.ok(Math.abs(flips / n - 0.5) < 0.03, `flip rate ${flips / n}`);
  // The order is a permutation, different for another epoch seed, the same for the same seed.
  const order = (seed: number) => {
    data.newEpoch(true, false, seed);
    return Array.from(data.peek(0, n).labels);
  };
  const first = order(1);
  assert.deepEqual([...first].sort((a, b) => a - b), Array.from(labels));
  assert.notDeepEqual(order(2), first);
  assert.deepEqual(order(1), first);
});
