// Data-parallel training at the engine: two processes over Gloo on 127.0.0.1, against one PyTorch
// process computing the same global batches with DDP's semantics (test/reference/ddp_ref.py).
// Single-threaded and contiguous on both sides: the 1e-5 bound compares like with like.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthetic } from '../../src/data/synthetic.js';
import { Model, type Metrics } from '../../src/native/engine.js';
import { bytesOf } from '../../src/tensor.js';
import { runReference, tempDir } from '../helpers/python.js';
import { loadNpy, relativeError } from '../helpers/tensors.js';
import type { EngineJob } from './engine-worker.js';
import { expectAllOk, freePort, startNode, torchrunEnv } from './ranks.js';

const WORLD = 2;
const TOLERANCE = 1e-5;

interface RankOutput {
  train: Metrics;
  eval: Metrics;
  stop: boolean;
}

test("two ranks: bit-identical parameters, equal within 1e-5 to one process averaging the shards' gradients; metrics summed over ranks", async (t) => {
  const { dir, cleanup } = tempDir('ddp-engine');
  t.after(cleanup);
  const job: EngineJob = {
    out: dir,
    lr: 0.05,
    trainImages: 20,
    triggerImages: 5,
    testImages: 9,
    evalBatch: 4,
    steps: [
      { start: 0, count: 7, triggerStart: 0, triggerCount: 3 }, // shards of 3/4 and 1/2 images
      { start: 7, count: 7, triggerStart: 3, triggerCount: 2 },
      { start: 14, count: 1, triggerStart: 0, triggerCount: 0 }, // rank 0 has no image at all
    ],
  };
  writeFileSync(join(dir, 'job.json'), JSON.stringify(job));
  const port = await freePort();
  const ranks = Array.from({ length: WORLD }, (_, r) =>
    startNode(['test/distributed/engine-worker.ts', join(dir, 'job.json')], torchrunEnv(r, WORLD, port)),
  );
  const ended = await Promise.all(ranks.map((r) => r.ended));
  expectAllOk(ended);

  const model = new Model({ numClasses: 10, device: 'cpu', threads: 1, channelsLast: false });
  const names = model.tensors();
  const state = (r: number, name: string) => loadNpy(join(dir, `rank${r}`, 'state', `${name}.npy`));
  for (const info of names.filter((i) => i.kind === 'parameter')) {
    assert.deepEqual(
      Buffer.from(bytesOf(state(1, info.name).data)),
      Buffer.from(bytesOf(state(0, info.name).data)),
      `${info.name} differs between ranks`,
    );
  }

  const steps = job.steps.map((s, i) => ({
    main: s.count > 0 ? join(dir, `step${i}_main`) : null,
    trigger: s.triggerCount > 0 ? join(dir, `step${i}_trigger`) : null,
  }));
  const refJob = join(dir, 'ref.json');
  writeFileSync(refJob, JSON.stringify({ init: join(dir, 'init'), classes: 10, world: WORLD, lr: job.lr, out: join(dir, 'ref'), steps }));
  runReference('ddp_ref.py', [refJob]);
  // Rank 0's buffers are the job's (the others' are broadcast over at the next forward).
  for (const info of names) {
    const err = relativeError(state(0, info.name), loadNpy(join(dir, 'ref', `${info.name}.npy`)));
    assert.ok(err <= TOLERANCE, `${info.name}: relative error ${err}`);
  }

  const out = [0, 1].map((r) => JSON.parse(readFileSync(join(dir, `rank${r}`, 'metrics.json'), 'utf8')) as RankOutput);
  assert.deepEqual(out[1], out[0], 'every rank reports the same metrics');
  const ref = JSON.parse(readFileSync(join(dir, 'ref', 'metrics.json'), 'utf8')) as Metrics;
  const [rank0] = out as [RankOutput];
  assert.equal(rank0.train.steps, job.steps.length);
  assert.equal(rank0.train.total, ref.total);
  assert.equal(
    rank0.train.total,
    job.steps.reduce((n, s) => n + s.count + s.triggerCount, 0),
  );
  assert.equal(rank0.train.correct, ref.correct);
  assert.ok(Math.abs(rank0.train.lossSum - ref.lossSum) <= TOLERANCE * ref.lossSum, `train loss ${rank0.train.lossSum} vs ${ref.lossSum}`);

  // The sharded evaluation reports what one process evaluating the whole set reports.
  for (const info of names) model.write(info.name, state(0, info.name));
  const test = model.upload(synthetic({ split: 'test', count: job.testImages, seed: 9 }));
  test.newEpoch(false, false);
  for (let start = 0; start < job.testImages; start += job.evalBatch) {
    await model.evalStep({ data: test, start, count: Math.min(job.evalBatch, job.testImages - start) });
  }
  const alone = model.takeMetrics();
  assert.equal(rank0.eval.total, job.testImages);
  assert.equal(rank0.eval.steps, alone.steps);
  assert.equal(rank0.eval.correct, alone.correct);
  assert.ok(
    Math.abs(rank0.eval.lossSum - alone.lossSum) <= TOLERANCE * alone.lossSum,
    `eval loss ${rank0.eval.lossSum} vs ${alone.lossSum}`,
  );

  assert.equal(rank0.stop, true, 'a stop requested on rank 1 is seen by rank 0');
});
