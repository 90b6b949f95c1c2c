// The collective backend of this build on its own device: NCCL where CUDA is (scripts/device-check.sh
// runs this on a GPU machine), Gloo on the CPU elsewhere. A job of one rank runs every collective
// of a training step (the broadcasts, the gradient buckets, the metrics and the stop agreement)
// and must train exactly as the model does alone; with two GPUs, `wmnn train --nproc 2` runs over
// NCCL and writes a checkpoint that predict scores as the job did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { synthetic } from '../../src/data/synthetic.js';
import { buildInfo, Model, type Metrics } from '../../src/native/engine.js';
import { ProcessGroup } from '../../src/native/group.js';
import { tempDir } from '../helpers/python.js';
import { relativeError } from '../helpers/tensors.js';
import { freePort, startNode } from './ranks.js';

const info = buildInfo();
const backends = info.distributed.split(',');
const cuda = info.cudaAvailable && backends.includes('nccl');
const device = cuda ? 'cuda:0' : 'cpu';
const backend = cuda ? 'nccl' : 'gloo';
// Global batches of 16 and 8 images: alone, the loss is a mean; in a job, a sum divided again by
// the batch size, which is exact for a power of two. So on the CPU the two agree bit for bit. On
// CUDA, cuDNN's kernels need not be deterministic, and these small BatchNorm batches magnify a
// difference fast (on the CPU, a 1e-6 rounding grew to 2e-2 in 3 steps): there, one step, within
// CUDA_TOLERANCE. A broken collective (a lost bucket, a missing division) is off by ~1.
const CUDA_TOLERANCE = 1e-4;
const STEPS = [
  { start: 0, count: 14, triggerStart: 0, triggerCount: 2 },
  { start: 14, count: 14, triggerStart: 2, triggerCount: 2 },
  { start: 28, count: 6, triggerStart: 0, triggerCount: 2 },
];

async function train(model: Model): Promise<{ train: Metrics; test: Metrics }> {
  model.setSgd({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const data = model.upload(synthetic({ split: 'train', count: 34, seed: 5 }));
  const trigger = model.upload(synthetic({ split: 'train', count: 4, seed: 6 }));
  data.newEpoch(true, true, 7);
  trigger.newEpoch(true, false, 8);
  for (const s of cuda ? STEPS.slice(0, 1) : STEPS) {
    await model.trainStep({ data, start: s.start, count: s.count }, { data: trigger, start: s.triggerStart, count: s.triggerCount });
    model.anyRank(false);
  }
  const trainMetrics = model.takeMetrics();
  const test = model.upload(synthetic({ split: 'test', count: 10, seed: 9 }));
  test.newEpoch(false, false);
  for (let start = 0; start < 10; start += 4) await model.evalStep({ data: test, start, count: Math.min(4, 10 - start) });
  return { train: trainMetrics, test: model.takeMetrics() };
}

const oneRank = `a job of one rank (${backend} on ${device}) trains as the model does alone`;
test(oneRank, { skip: !backends.includes(backend) && `no ${backend} in this build` }, async () => {
  const options = { numClasses: 10, device, seed: 3, threads: 1, channelsLast: false };
  const alone = new Model(options);
  const job = new Model(options);
  const rendezvous = { masterAddr: '127.0.0.1', masterPort: await freePort(), rank: 0, worldSize: 1, timeoutMs: 30_000 };
  job.joinGroup(new ProcessGroup({ ...rendezvous, fingerprint: 'one' }));
  assert.equal(alone.takeCommunicationSeconds(), null, 'no job, no collectives');
  const a = await train(alone);
  const j = await train(job);
  const blocked = job.takeCommunicationSeconds();
  if (cuda) assert.equal(blocked, null, 'NCCL does not block the host: not measured');
  else assert.ok(blocked !== null && blocked > 0, `time in collectives: ${blocked}`);
  const tolerance = cuda ? CUDA_TOLERANCE : 0;
  for (const t of alone.tensors()) {
    const err = relativeError(job.read(t.name), alone.read(t.name));
    assert.ok(err <= tolerance, `${t.name}: relative error ${err}`);
  }
  for (const phase of ['train', 'test'] as const) {
    assert.equal(j[phase].total, a[phase].total, phase);
    if (!cuda) assert.equal(j[phase].correct, a[phase].correct, phase);
    // The job sums the losses in float64, the model alone in float32.
    const [got, want] = [j[phase].lossSum, a[phase].lossSum];
    assert.ok(Math.abs(got - want) <= Math.max(tolerance, 1e-6) * want, `${phase} loss ${got} vs ${want}`);
  }
});

const twoGpus = 'two GPUs: wmnn train --nproc 2 over NCCL writes one checkpoint that predict scores as the job did';
test(twoGpus, { skip: !(cuda && info.cudaDevices >= 2) && 'needs 2 GPUs and NCCL' }, async (t) => {
  const { dir, cleanup } = tempDir('nccl-cli');
  t.after(cleanup);
  const data = ['--dataset', 'synthetic', '--synthetic_test', '200', '--device', 'cuda'];
  const run = startNode(
    [
      'src/cli/index.ts',
      'train',
      '--nproc',
      '2',
      ...data,
      '--synthetic_train',
      '400',
      '--max_epochs',
      '1',
      '--batch_size',
      '50',
      '--seed',
      '2',
      '--save_dir',
      join(dir, 'ckpt'),
      '--log_dir',
      join(dir, 'log'),
      '--json',
    ],
    {},
  );
  const e = await run.ended;
  assert.equal(e.status, 0, e.stderr);
  const epoch = (JSON.parse(e.stdout) as { epochs: { train: { total: number }; test: { correct: number; total: number } }[] }).epochs[0];
  assert.equal(epoch?.train.total, 400);
  assert.deepEqual(readdirSync(join(dir, 'ckpt')), ['model.t7']);
  const predict = startNode(['src/cli/index.ts', 'predict', '--model_path', join(dir, 'ckpt', 'model.t7'), ...data, '--json'], {});
  const p = await predict.ended;
  assert.equal(p.status, 0, p.stderr);
  const scored = JSON.parse(p.stdout) as { correct: number; total: number };
  assert.equal(scored.total, 200);
  // cuDNN may pick other kernels for the shards' batch size than for the whole batch: one image
  // near a tie may flip.
  assert.ok(Math.abs(scored.correct - (epoch?.test.correct ?? -2)) <= 1, `predict ${scored.correct}, the job ${epoch?.test.correct}`);
});
