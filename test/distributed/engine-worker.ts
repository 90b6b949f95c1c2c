// One rank of the engine-level data-parallel test (engine.test.ts starts two): joins the job from
// RANK/WORLD_SIZE/MASTER_PORT, trains the steps of the job file on its shards, evaluates a sharded
// test set, and writes its final state and metrics under OUT/rank<r>/. Rank 0 also writes the
// global batches exactly as the engine saw them (for the reference) and its weights after joining.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../src/checkpoint/npy.js';
import { synthetic } from '../../src/data/synthetic.js';
import { shardOf } from '../../src/distributed/shard.js';
import { Model, type DeviceData } from '../../src/native/engine.js';
import { ProcessGroup } from '../../src/native/group.js';
import { saveState } from '../helpers/tensors.js';

export interface EngineJob {
  out: string;
  lr: number;
  trainImages: number;
  triggerImages: number;
  testImages: number;
  evalBatch: number;
  /** Global batches: main slice and appended trigger slice of the epoch's order. */
  steps: { start: number; count: number; triggerStart: number; triggerCount: number }[];
}

const job = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as EngineJob;
const rank = Number(process.env.RANK);
const group = new ProcessGroup({
  masterAddr: '127.0.0.1',
  masterPort: Number(process.env.MASTER_PORT),
  rank,
  worldSize: Number(process.env.WORLD_SIZE),
  timeoutMs: 30_000,
  fingerprint: 'engine-test',
});
// Another seed per rank: what the ranks train must be rank 0's weights, broadcast at join.
const model = new Model({ numClasses: 10, device: 'cpu', seed: 100 + rank, threads: 1, channelsLast: false });
model.joinGroup(group);
model.setSgd({ lr: job.lr, momentum: 0.9, weightDecay: 5e-4 });
const out = join(job.out, `rank${rank}`);
mkdirSync(out, { recursive: true });
if (rank === 0) saveState(model, join(job.out, 'init'));

const train = model.upload(synthetic({ split: 'train', count: job.trainImages, seed: 5 }));
const trigger = model.upload(synthetic({ split: 'train', count: job.triggerImages, seed: 6 }));
train.newEpoch(true, true, 7);
trigger.newEpoch(true, false, 8);
const peek = (data: DeviceData, start: number, count: number, name: string): void => {
  if (count === 0) return;
  const b = data.peek(start, count);
  writeFileSync(join(job.out, `${name}_x.npy`), writeNpy(b.images));
  writeFileSync(join(job.out, `${name}_y.npy`), writeNpy({ dtype: 'int32', shape: [count], data: b.labels }));
};
const m = model.membership;
for (const [i, s] of job.steps.entries()) {
  if (rank === 0) {
    peek(train, s.start, s.count, `step${i}_main`);
    peek(trigger, s.triggerStart, s.triggerCount, `step${i}_trigger`);
  }
  const main = shardOf({ start: s.start, count: s.count }, m);
  const extra = shardOf({ start: s.triggerStart, count: s.triggerCount }, m);
  await model.trainStep({ data: train, ...main }, { data: trigger, ...extra });
}
const trainMetrics = model.takeMetrics();

const test = model.upload(synthetic({ split: 'test', count: job.testImages, seed: 9 }));
test.newEpoch(false, false);
for (let start = 0; start < job.testImages; start += job.evalBatch) {
  const global = { start, count: Math.min(job.evalBatch, job.testImages - start) };
  await model.evalStep({ data: test, ...shardOf(global, m) });
}
const evalMetrics = model.takeMetrics();
saveState(model, join(out, 'state'));
writeFileSync(join(out, 'metrics.json'), JSON.stringify({ train: trainMetrics, eval: evalMetrics, stop: model.anyRank(rank === 1) }));
