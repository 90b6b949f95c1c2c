// Global magnitude pruning on a real ResNet-18: which tensors, how many zeros, which ones, and
// that every rate starts again from the original weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../../src/native/engine.js';
import type { Tensor } from '../../src/tensor.js';
import { MagnitudePruner } from '../../src/watermark/prune.js';
import { attackedWeights } from '../../src/watermark/weights.js';

const model = new Model({ numClasses: 10, device: 'cpu', seed: 5 });
const before = new Map(model.stateDict());
const floats = (t: Tensor | undefined): Float32Array => t!.data as Float32Array;

test('conv and linear weights are pruned; BatchNorm, biases and buffers are not', () => {
  const names = attackedWeights(model);
  assert.ok(names.includes('conv1.weight'));
  assert.ok(names.includes('layer2.0.shortcut.0.weight'));
  assert.ok(names.includes('linear.weight'));
  assert.ok(!names.some((n) => n.includes('bn') || n.endsWith('.bias')));
  assert.equal(names.length, 21); // 1 stem + 16 block convs + 3 shortcuts + linear
});

test('a rate zeroes exactly that share, the smallest magnitudes, and nothing else', () => {
  const pruner = new MagnitudePruner(model);
  const names = new Set(pruner.names);
  const r = pruner.apply(0.3);
  assert.equal(r.zeroed, Math.round(0.3 * r.total));
  let zeros = 0;
  let maxZeroed = 0;
  let minKept = Infinity;
  for (const [name, t] of model.stateDict()) {
    const original = before.get(name)!;
    if (!names.has(name)) {
      assert.deepEqual(t.data, original.data, `${name} changed`);
      continue;
    }
    const now = floats(t);
    const was = floats(original);
    for (let i = 0; i < now.length; i++) {
      if (now[i] === 0) {
        zeros++;
        maxZeroed = Math.max(maxZeroed, Math.abs(was[i]!));
      } else {
        assert.equal(now[i], was[i]);
        minKept = Math.min(minKept, Math.abs(was[i]!));
      }
    }
  }
  assert.equal(zeros, r.zeroed);
  assert.ok(maxZeroed <= minKept, `${maxZeroed} > ${minKept}`);
  assert.equal(maxZeroed, r.threshold);

  // A lower rate after a higher one starts from the originals again.
  assert.equal(pruner.apply(0.1).zeroed, Math.round(0.1 * r.total));
  const conv = floats(model.read('layer1.0.conv1.weight'));
  assert.equal(conv.filter((v) => v === 0).length < 0.2 * conv.length, true);

  pruner.apply(0);
  for (const [name, t] of model.stateDict()) assert.deepEqual(t.data, before.get(name)!.data, `${name} after rate 0`);
  pruner.apply(0.9);
  pruner.restore();
  for (const [name, t] of model.stateDict()) assert.deepEqual(t.data, before.get(name)!.data, `${name} after restore`);
  assert.throws(() => pruner.apply(1), /rate/);
});
