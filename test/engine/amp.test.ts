// Mixed precision: bf16 autocast trains to the same accuracy as float32 (within noise) while the
// weights, momentum and BatchNorm statistics stay float32; fp16 is refused on the CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { synthetic } from '../../src/data/synthetic.js';
import { Model, type Amp } from '../../src/native/engine.js';
import { evaluate, trainEpoch } from '../../src/training/loop.js';
import { startProgress } from '../../src/training/progress.js';
import { accuracy } from '../../src/training/run.js';

const quiet = () => startProgress({ mode: 'silent' });

async function trainAndScore(amp: Amp): Promise<{ acc: number; model: Model }> {
  const model = new Model({ numClasses: 10, seed: 4, amp });
  model.setSgd({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const train = model.upload(synthetic({ split: 'train', count: 400, seed: 1 }));
  const test = model.upload(synthetic({ split: 'test', count: 200, seed: 1 }));
  for (let epoch = 0; epoch < 2; epoch++) await trainEpoch(model, { data: train, batchSize: 50, seed: epoch, progress: quiet() });
  return { acc: accuracy(await evaluate(model, test, 100, quiet())), model };
}

test('bf16 autocast: accuracy within noise of float32, state kept in float32', async () => {
  const fp32 = await trainAndScore('off');
  const bf16 = await trainAndScore('bf16');
  assert.equal(bf16.model.amp, 'bf16');
  console.log(`float32 ${fp32.acc}%, bf16 ${bf16.acc}%`);
  assert.ok(fp32.acc > 40, `float32 learns (${fp32.acc}%)`);
  assert.ok(Math.abs(bf16.acc - fp32.acc) <= 12, `bf16 ${bf16.acc}% vs float32 ${fp32.acc}%`);
  for (const info of bf16.model.tensors()) {
    assert.equal(bf16.model.read(info.name).dtype, info.name.endsWith('num_batches_tracked') ? 'int64' : 'float32', info.name);
  }
  assert.equal(bf16.model.readMomentum('conv1.weight')?.dtype, 'float32');
});

test('fp16 needs CUDA: a clear error on the CPU', () => {
  assert.throws(
    () => new Model({ numClasses: 10, device: 'cpu', amp: 'fp16' }),
    /--amp fp16 needs a CUDA device; on the CPU use --amp bf16/,
  );
});
