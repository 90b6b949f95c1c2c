// The engine's hooks for the removal attacks, on a real ResNet-18: the distillation loss against
// PyTorch's (1e-5) and in a training step; label smoothing; masked weights that stay zero through
// SGD; and the per-channel activation means fine-pruning ranks channels by.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { synthetic } from '../../src/data/synthetic.js';
import { loadBinding } from '../../src/native/binding.js';
import { Model } from '../../src/native/engine.js';
import { PythonWorker } from '../helpers/python.js';

const py = new PythonWorker('attack_ref.py');
after(() => py.close());

const b64 = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const f32 = (s: string): Float32Array => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const CLASSES = 10;
const SGD = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };

function pseudoLogits(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n * CLASSES }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * scale;
  });
}

/** The loss PyTorch would report for these logits: mean over rows of -sum q log softmax. */
function crossEntropy(logits: Float32Array, targets: (row: number) => Float64Array): number {
  const n = logits.length / CLASSES;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = Array.from(logits.subarray(i * CLASSES, (i + 1) * CLASSES));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    const q = targets(i);
    total += row.reduce((s, v, k) => s - q[k]! * (v - lse), 0);
  }
  return total / n;
}

test("the distillation loss and its gradient equal PyTorch's kl_div(log_softmax(s/T), softmax(t/T)) * T^2 within 1e-5", async () => {
  const n = 7;
  for (const t of [1, 4, 20]) {
    const student = pseudoLogits(n, 1 + t, 8);
    const teacher = pseudoLogits(n, 100 + t, 12);
    const ours = loadBinding().softTargetLoss(student, teacher, n, CLASSES, t);
    const theirs = await py.request<{ loss: number; grad: string }>({
      job: 'soft_loss',
      student: b64(student),
      teacher: b64(teacher),
      n,
      c: CLASSES,
      t,
    });
    assert.ok(Math.abs(ours.loss - theirs.loss) <= 1e-5 * Math.max(1, Math.abs(theirs.loss)), `T=${t}: ${ours.loss} vs ${theirs.loss}`);
    const g = f32(theirs.grad);
    const maxDiff = Math.max(...Array.from(ours.grad.data, (v, i) => Math.abs(v - g[i]!)));
    assert.ok(maxDiff <= 1e-5, `T=${t}: gradient max |diff| ${maxDiff}`);
  }
});

const set = synthetic({ split: 'train', count: 12, seed: 3 });

test('a dataset with soft targets trains on the distillation loss; label smoothing changes the cross-entropy', async () => {
  const model = new Model({ numClasses: CLASSES, device: 'cpu', seed: 2, threads: 1 });
  model.setSgd(SGD);
  const data = model.upload(set);
  data.newEpoch(false, false);
  const batch = { data, start: 0, count: 6 };
  const x = data.peek(0, 6).images.data;
  const teacher = pseudoLogits(set.count, 5, 10);
  const t = 4;

  model.setSoftTargets(data, teacher, t);
  const before = await model.forward(x, true); // train mode: batch statistics, as the step sees them
  await model.trainStep(batch);
  const soft = model.takeMetrics();
  const expected = loadBinding().softTargetLoss(before.data, teacher.subarray(0, 6 * CLASSES), 6, CLASSES, t).loss;
  assert.ok(Math.abs(soft.lossSum - expected) < 1e-5, `soft step loss ${soft.lossSum}, expected ${expected}`);

  model.setSoftTargets(data, null);
  const eps = 0.2;
  model.setLabelSmoothing(eps);
  const logits = await model.forward(x, true);
  await model.trainStep(batch);
  const smoothed = model.takeMetrics().lossSum;
  const q = (i: number) => Float64Array.from({ length: CLASSES }, (_, k) => (k === set.labels[i] ? 1 - eps : 0) + eps / CLASSES);
  assert.ok(Math.abs(smoothed - crossEntropy(logits.data, q)) < 1e-5, `smoothed loss ${smoothed}`);
  const plain = crossEntropy(logits.data, (i) => Float64Array.from({ length: CLASSES }, (_, k) => (k === set.labels[i] ? 1 : 0)));
  assert.ok(Math.abs(smoothed - plain) > 1e-3, 'label smoothing changed the loss');
  model.setLabelSmoothing(0);
  assert.throws(() => model.setLabelSmoothing(1), /label smoothing must be in \[0, 1\)/);
});

test('masked weights are zeroed and stay zero through SGD with momentum and weight decay; the rest trains', async () => {
  const model = new Model({ numClasses: CLASSES, device: 'cpu', seed: 6 });
  model.setSgd(SGD);
  const data = model.upload(set);
  const w = model.read('linear.weight');
  const conv = model.read('layer4.1.conv2.weight');
  const pruned = new Set([3, 100, 511]);
  const mask = Float32Array.from(w.data as Float32Array, (_, i) => (pruned.has(i % 512) ? 0 : 1));
  model.setMask('linear.weight', { dtype: 'float32', shape: w.shape, data: mask });
  const convMask = Float32Array.from(conv.data as Float32Array, (_, i) => (i < 4608 ? 0 : 1)); // output channel 0
  model.setMask('layer4.1.conv2.weight', { dtype: 'float32', shape: conv.shape, data: convMask });
  for (let e = 0; e < 2; e++) {
    data.newEpoch(true, true, e);
    await model.trainStep({ data, start: 0, count: 6 });
    await model.trainStep({ data, start: 6, count: 6 });
  }
  const after = model.read('linear.weight').data as Float32Array;
  const afterConv = model.read('layer4.1.conv2.weight').data as Float32Array;
  for (let i = 0; i < after.length; i++) {
    if (mask[i] === 0)
      assert.ok(after[i] === 0, `linear.weight[${i}] stays 0`); // -0 included
    else assert.notEqual(after[i], (w.data as Float32Array)[i], `linear.weight[${i}] trains`);
  }
  assert.ok(afterConv.subarray(0, 4608).every((v) => v === 0));
  assert.ok(afterConv.subarray(4608).some((v, i) => v !== (conv.data as Float32Array)[4608 + i]));
  model.clearMasks();
  await model.trainStep({ data, start: 0, count: 6 });
  assert.ok(
    (model.read('linear.weight').data as Float32Array).some((v, i) => mask[i] === 0 && v !== 0),
    'cleared masks no longer hold',
  );
  assert.throws(() => model.setMask('linear.weight', { dtype: 'float32', shape: [2], data: new Float32Array(2) }), /has shape/);
});

test("channel means are the last stage's mean activations (the mean eval logits are W . means + b), and mean |a| bounds them", async () => {
  const model = new Model({ numClasses: CLASSES, device: 'cpu', seed: 8 });
  const data = model.upload(set);
  const { mean: means, meanAbs } = await model.channelMeans(data, 5);
  assert.equal(means.length, 512);
  assert.ok(
    meanAbs.every((a, c) => a >= Math.abs(means[c]!) - 1e-6 && a > 0),
    'mean |a| >= |mean a|',
  );
  data.newEpoch(false, false);
  const logits = await model.forward(data.peek(0, set.count).images.data, false);
  const w = model.read('linear.weight').data as Float32Array;
  const b = model.read('linear.bias').data as Float32Array;
  for (let k = 0; k < CLASSES; k++) {
    let mean = 0;
    for (let i = 0; i < set.count; i++) mean += logits.data[i * CLASSES + k]! / set.count;
    let fromMeans = b[k]!;
    for (let c = 0; c < 512; c++) fromMeans += w[k * 512 + c]! * means[c]!;
    assert.ok(Math.abs(mean - fromMeans) < 1e-4, `class ${k}: ${mean} vs ${fromMeans}`);
  }
});
