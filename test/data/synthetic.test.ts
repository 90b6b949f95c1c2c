// The built-in synthetic dataset: reproducible, seed-dependent, balanced, splits apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IMAGE_BYTES } from '../../src/data/dataset.js';
import { synthetic } from '../../src/data/synthetic.js';

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** Set of per-image digests, to check no image of one set appears in another. */
function imageKeys(images: Uint8Array): Set<string> {
  const keys = new Set<string>();
  for (let i = 0; i * IMAGE_BYTES < images.length; i++) {
    keys.add(Buffer.from(images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES)).toString('base64'));
  }
  return keys;
}

test('same seed, same images and labels; another seed, other images', () => {
  const a = synthetic({ split: 'train', count: 200, seed: 1 });
  const b = synthetic({ split: 'train', count: 200, seed: 1 });
  const c = synthetic({ split: 'train', count: 200, seed: 2 });
  assert.ok(equalBytes(a.images, b.images));
  assert.deepEqual(a.labels, b.labels);
  assert.equal(a.source, 'synthetic(train, seed=1)');
  const shared = [...imageKeys(a.images)].filter((k) => imageKeys(c.images).has(k));
  assert.equal(shared.length, 0);
});

test('a prefix of a larger set is the smaller set (images depend on index, not count)', () => {
  const small = synthetic({ split: 'test', count: 30, seed: 5 });
  const large = synthetic({ split: 'test', count: 90, seed: 5 });
  assert.ok(equalBytes(small.images, large.images.subarray(0, small.images.length)));
});

test('classes balanced, train and test share no image', () => {
  const train = synthetic({ split: 'train', count: 500, seed: 3 });
  const test_ = synthetic({ split: 'test', count: 500, seed: 3 });
  assert.equal(train.numClasses, 10);
  const counts = new Array<number>(10).fill(0);
  for (const label of train.labels) counts[label]! += 1;
  assert.deepEqual(counts, new Array<number>(10).fill(50));
  const trainKeys = imageKeys(train.images);
  assert.equal(trainKeys.size, 500, 'no duplicate within train');
  assert.equal([...imageKeys(test_.images)].filter((k) => trainKeys.has(k)).length, 0);
});

test('images vary within a class and use the whole value range', () => {
  const set = synthetic({ split: 'train', count: 100, seed: 9 });
  // Class 0 images 0 and 10: different positions/colours, so many differing bytes.
  const a = set.images.subarray(0, IMAGE_BYTES);
  const b = set.images.subarray(10 * IMAGE_BYTES, 11 * IMAGE_BYTES);
  let differing = 0;
  for (let i = 0; i < IMAGE_BYTES; i++) if (a[i] !== b[i]) differing++;
  assert.ok(differing > IMAGE_BYTES / 2, `${differing} differing bytes`);
  const min = set.images.reduce((m, v) => Math.min(m, v), 255);
  const max = set.images.reduce((m, v) => Math.max(m, v), 0);
  assert.ok(min < 10 && max > 245, `range ${min}..${max}`);
});

test('class means differ: each class is visually distinct', () => {
  // Nearest-class-mean on raw pixels, fitted on train and scored on test: a weak learner that is
  // still far above chance (10%) only if classes differ systematically.
  const train = synthetic({ split: 'train', count: 1000, seed: 4 });
  const test_ = synthetic({ split: 'test', count: 300, seed: 4 });
  const means = Array.from({ length: 10 }, () => new Float64Array(IMAGE_BYTES));
  for (let i = 0; i < train.count; i++) {
    const m = means[train.labels[i]!]!;
    for (let k = 0; k < IMAGE_BYTES; k++) m[k]! += train.images[i * IMAGE_BYTES + k]! / 100;
  }
  let correct = 0;
  for (let i = 0; i < test_.count; i++) {
    let best = -1;
    let bestDistance = Infinity;
    for (const [c, m] of means.entries()) {
      let d = 0;
      for (let k = 0; k < IMAGE_BYTES; k++) d += (test_.images[i * IMAGE_BYTES + k]! - m[k]!) ** 2;
      if (d < bestDistance) [best, bestDistance] = [c, d];
    }
    if (best === test_.labels[i]) correct++;
  }
  assert.ok(correct / test_.count > 0.5, `nearest-mean accuracy ${correct}/${test_.count}`);
});

test('bad count is refused', () => {
  assert.throws(() => synthetic({ split: 'train', count: -1, seed: 1 }), /count must be a non-negative integer/);
});
