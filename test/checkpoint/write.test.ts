// wmnn writes, PyTorch reads: files from the writer load in torch as the original loads them,
// equal what was written bit for bit, and are byte-identical to torch.save of the same content.
// Also the wmnn extra key, the weights-only exports and atomic replacement.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DType, Tensor } from '../../src/tensor.js';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { resnet18Graph, stateEntries } from '../../src/checkpoint/resnet-graph.js';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { archiveNameOf, writeCheckpoint, writeStateDict, type CheckpointContent } from '../../src/checkpoint/write.js';
import type { WmnnExtra } from '../../src/checkpoint/wmnn-extra.js';
import { PythonWorker, runReference, sha256, tempDir, tensorSha } from '../helpers/python.js';

let dir = '';
let cleanup = (): void => {};
let torchCheck: PythonWorker;

before(() => {
  torchCheck = new PythonWorker('check_written.py');
  ({ dir, cleanup } = tempDir('write'));
  mkdirSync(join(dir, 'ref'));
  mkdirSync(join(dir, 'out'));
  mkdirSync(join(dir, 'resaved'));
  runReference('make_checkpoints.py', [join(dir, 'ref'), 'trained-zip.t7', 'ftll-zip.t7']);
});
after(() => {
  torchCheck.close();
  cleanup();
});

/** Deterministic pseudo-random values in [-1, 1) (xorshift32), fast enough for 11M elements. */
function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x | 0) / 2147483648;
  };
}

function randomTensor(dtype: DType, shape: number[], next: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'int64') {
    const data = new BigInt64Array(n);
    for (let i = 0; i < n; i++) data[i] = BigInt(Math.floor((next() + 1) * 500));
    return { dtype, shape, data };
  }
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = next();
  return { dtype: 'float32', shape, data };
}

let cachedState: Map<string, Tensor> | null = null;

function randomState(numClasses: number, seed: number): Map<string, Tensor> {
  const next = rng(seed);
  const state = new Map(stateEntries(resnet18Graph(numClasses)).map((e) => [e.name, randomTensor(e.dtype, e.shape, next)]));
  // A variance must be positive for eval-mode BatchNorm to give numbers.
  for (const [k, t] of state)
    if (k.endsWith('running_var'))
      (t.data as Float32Array).forEach((v, i, a) => {
        a[i] = v + 1.5;
      });
  return state;
}

/** One 10-class state shared by the tests that only need some valid content. */
function someState(): Map<string, Tensor> {
  cachedState ??= randomState(10, 5);
  return cachedState;
}

interface Job {
  kind: 'checkpoint' | 'state_dict' | 'safetensors';
  path: string;
  resave_dir?: string;
  expect: Record<string, unknown>;
}
interface JobResult {
  path: string;
  errors: string[];
  resaved_sha256?: string;
}

function expectTensors(tensors: Map<string, Tensor>): { name: string; shape: number[]; dtype: string; sha256: string }[] {
  return [...tensors].map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype, sha256: tensorSha(t) }));
}

function checkpointJob(path: string, c: CheckpointContent & { tensors: Map<string, Tensor> }, numClasses: number, resave = true): Job {
  const expect: Record<string, unknown> = {
    num_classes: numClasses,
    tensors: expectTensors(c.tensors),
    requires_grad: Object.fromEntries(c.requiresGrad ?? []),
    training: c.training,
    acc: c.acc,
    epoch: c.epoch,
  };
  if (c.extra) {
    const named = (l?: [string, Tensor][]): Record<string, string> => Object.fromEntries((l ?? []).map(([k, t]) => [k, tensorSha(t)]));
    expect.wmnn = {
      momentum: named(c.extra.momentum),
      tensors: named(c.extra.tensors),
      state: c.extra.state ?? {},
    };
  }
  return { kind: 'checkpoint', path, expect, ...(resave ? { resave_dir: join(dir, 'resaved') } : {}) };
}

async function runChecks(jobs: Job[]): Promise<JobResult[]> {
  const results = await torchCheck.request<JobResult[]>(jobs);
  for (const r of results) assert.deepEqual(r.errors, [], `${r.path}: ${r.errors.join('; ')}`);
  return results;
}

test('reading a torch file and writing it back under the same name gives the same bytes', () => {
  for (const name of ['trained-zip.t7', 'ftll-zip.t7']) {
    const c = readCheckpoint(join(dir, 'ref', name));
    assert.ok(c.acc && c.epoch !== null && typeof c.training === 'boolean');
    const out = join(dir, 'out', name);
    writeCheckpoint(out, { tensors: c.tensors, requiresGrad: c.requiresGrad, training: c.training, acc: c.acc.value, epoch: c.epoch });
    assert.equal(sha256(readFileSync(out)), sha256(readFileSync(join(dir, 'ref', name))), name);
  }
});

test('files written from scratch load in PyTorch as the original loads them, and equal torch.save', async () => {
  const ten = randomState(10, 1);
  const frozen = new Map(
    [...ten.keys()].filter((k) => !k.includes('running') && !k.includes('num_batches')).map((k) => [k, k.startsWith('linear.')]),
  );
  const plain = { tensors: ten, requiresGrad: frozen, training: false, numClasses: 10, acc: 93.17, epoch: 12 };
  const hundred = { tensors: randomState(100, 2), training: true, acc: 41.5, epoch: 300 };
  const paths = [join(dir, 'out', 'model.t7'), join(dir, 'out', 'fine.tune.last.layerftll.t7')];
  writeCheckpoint(paths[0] as string, plain);
  writeCheckpoint(paths[1] as string, hundred);
  const results = await runChecks([checkpointJob(paths[0] as string, plain, 10), checkpointJob(paths[1] as string, hundred, 100)]);
  for (const [i, r] of results.entries()) {
    assert.equal(
      r.resaved_sha256,
      sha256(readFileSync(paths[i] as string)),
      `${r.path}: torch.save of the loaded object gives the same bytes`,
    );
  }
  // And wmnn reads back what it wrote.
  const back = readCheckpoint(paths[1] as string);
  assert.equal(back.archiveName, 'fine.tune.last.layerftll');
  assert.equal(back.tensors.size, 107);
  assert.deepEqual(back.tensors.get('linear.weight')?.shape, [100, 512]);
  assert.equal(back.training, true);
  assert.equal(back.epoch, 300);
  assert.equal(back.acc?.value, Math.fround(41.5));
});

test('the wmnn extra key loads in PyTorch and reads back the same', async () => {
  const tensors = randomState(10, 3);
  const next = rng(4);
  const momentum: [string, Tensor][] = stateEntries(resnet18Graph(10))
    .filter((e) => e.kind === 'parameter')
    .map((e) => [e.name, randomTensor('float32', e.shape, next)]);
  const extra: WmnnExtra = {
    momentum,
    tensors: [['private_key.weight', randomTensor('float32', [10, 512], next)]],
    state: { lr: 0.01, next_epoch: 13, schedule: 'step', wmtrain: true },
  };
  const content = { tensors, training: false, acc: 88.0, epoch: 12, extra };
  const path = join(dir, 'out', 'resume.t7');
  writeCheckpoint(path, content);
  await runChecks([checkpointJob(path, content, 10, false)]);
  const back = readCheckpoint(path);
  assert.deepEqual(back.topKeys, ['net', 'acc', 'epoch', 'wmnn']);
  assert.ok(back.wmnn);
  assert.deepEqual(back.wmnn.state, extra.state);
  assert.deepEqual(
    back.wmnn.momentum?.map(([k, t]) => [k, tensorSha(t)]),
    momentum.map(([k, t]) => [k, tensorSha(t)]),
  );
  assert.equal(back.wmnn.tensors?.[0]?.[0], 'private_key.weight');
});

test('exports: a weights-only state_dict and a safetensors file', async () => {
  const c = readCheckpoint(join(dir, 'ref', 'trained-zip.t7'));
  const pt = join(dir, 'out', 'weights.pt');
  const st = join(dir, 'out', 'weights.safetensors');
  writeStateDict(pt, c.tensors);
  writeSafetensors(st, c.tensors);
  const tensors = expectTensors(c.tensors);
  await runChecks([
    { kind: 'state_dict', path: pt, expect: { tensors, num_classes: 10 } },
    { kind: 'safetensors', path: st, expect: { tensors } },
  ]);
  const parsed = readSafetensors(readFileSync(st));
  assert.deepEqual(parsed.metadata, { format: 'pt' });
  assert.deepEqual(expectTensors(parsed.tensors), tensors);
  const headerLen = Number(readFileSync(st).readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0);
  // wmnn reads its own state_dict export as a bare state_dict.
  const again = readCheckpoint(pt);
  assert.equal(again.modelClass, 'state_dict');
  assert.deepEqual(expectTensors(again.tensors), tensors);
});

test('writes are atomic: a failed write leaves the destination and the folder as they were', () => {
  const folder = join(dir, 'atomic');
  mkdirSync(folder);
  const dest = join(folder, 'model.t7');
  writeFileSync(dest, 'previous checkpoint');
  const good = { tensors: someState(), training: false, acc: 1, epoch: 0 };
  const broken = new Map(good.tensors);
  broken.delete('layer1.0.conv2.weight');
  assert.throws(() => writeCheckpoint(dest, { ...good, tensors: broken }), /missing layer1\.0\.conv2\.weight/);
  // Renaming over a folder fails after the temporary file is complete.
  const blocked = join(folder, 'blocked.t7');
  mkdirSync(blocked);
  writeFileSync(join(blocked, 'keep'), 'x');
  assert.throws(() => writeCheckpoint(blocked, good));
  assert.deepEqual(readdirSync(folder).sort(), ['blocked.t7', 'model.t7']);
  assert.equal(readFileSync(dest, 'utf8'), 'previous checkpoint');
  writeCheckpoint(dest, good);
  assert.equal(readCheckpoint(dest).tensors.size, 107);
  assert.deepEqual(readdirSync(folder).sort(), ['blocked.t7', 'model.t7']);
  // A missing folder is made with the first file (commands check it can be before any work).
  assert.ok(!existsSync(join(dir, 'nowhere')));
  writeCheckpoint(join(dir, 'nowhere', 'deeper', 'model.t7'), good);
  assert.deepEqual(readdirSync(join(dir, 'nowhere', 'deeper')), ['model.t7']);
  // A path under a file cannot be made: the error names the destination, not the temporary file.
  const underFile = join(dest, 'model.t7');
  assert.throws(
    () => writeCheckpoint(underFile, good),
    (e: Error) => e.message.startsWith(`cannot write ${underFile}:`) && !e.message.includes('.tmp'),
  );
});

test('the archive folder name follows torch: base name without its last extension', () => {
  assert.equal(archiveNameOf('checkpoint/model.t7'), 'model');
  assert.equal(archiveNameOf('/a/fine.tune.last.layerftll.t7'), 'fine.tune.last.layerftll');
  assert.equal(archiveNameOf('ümlaut.t7'), 'ümlaut');
  assert.equal(archiveNameOf('noext'), 'noext');
  assert.throws(() => archiveNameOf('dir/.t7'), /needs something before its extension/);
});

test('the writer refuses content that is not a ResNet-18 state', () => {
  const good = { tensors: someState(), training: false, acc: 1, epoch: 0 };
  const path = join(dir, 'out', 'refused.t7');
  assert.throws(() => writeCheckpoint(path, { ...good, numClasses: 100 }), /numClasses is 100 but linear.weight has 10 rows/);
  assert.throws(() => writeCheckpoint(path, { ...good, requiresGrad: new Map([['bn1.running_mean', false]]) }), /not a parameter/);
  assert.throws(() => writeCheckpoint(path, { ...good, epoch: 1.5 }), /epoch 1.5 is not an integer/);
  const wrong = new Map(good.tensors);
  wrong.set('conv1.weight', { dtype: 'float32', shape: [64, 3, 3, 3], data: new Float32Array(5) });
  assert.throws(() => writeCheckpoint(path, { ...good, tensors: wrong }), /holds 5 elements/);
  assert.ok(!existsSync(path));
});
