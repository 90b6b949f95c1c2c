// wmnn as a data-parallel job on the CPU (Gloo over 127.0.0.1, ports free at run time): `--nproc 2`
// trains and writes one checkpoint that predict and PyTorch accept, Ctrl-C stops every rank at a
// resumable step, a dead rank ends the others with a message naming it, and a bad rendezvous is a
// one-line error, not a hang. Tiny synthetic data and one thread per rank keep it short.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { writeNpy } from '../../src/checkpoint/npy.js';
import { SYNTHETIC_SEED } from '../../src/data/sources.js';
import { synthetic } from '../../src/data/synthetic.js';
import { wmnnOk } from '../helpers/cli.js';
import { runReference, tempDir } from '../helpers/python.js';
import { makeTriggerSet } from '../helpers/trigger.js';
import { freePort, startNode, torchrunEnv, type Ended, type Rank } from './ranks.js';

const CLI = 'src/cli/index.ts';
const TEST_IMAGES = 20;
/** The bound on how long the others may take to end after a rank died. */
const FAILURE_BOUND_S = 60;

interface PhaseJson {
  correct: number;
  total: number;
  loss: number;
}
interface TrainPhaseJson extends PhaseJson {
  seconds: number;
  communicationSeconds?: number;
}
interface TrainJson {
  epochs: { epoch: number; train: TrainPhaseJson; test: PhaseJson; trigger: PhaseJson | null }[];
  interrupted: boolean;
  seed: number;
}

const { dir, cleanup } = tempDir('ddp-cli');
after(cleanup);
const trigger = join(dir, 'trigger');
makeTriggerSet(trigger, 6, 10, 11);
const common = (name: string, trainImages: number) => [
  '--dataset',
  'synthetic',
  '--synthetic_train',
  String(trainImages),
  '--synthetic_test',
  String(TEST_IMAGES),
  '--batch_size',
  '10',
  '--wm_batch_size',
  '2',
  '--wmtrain',
  '--wm_path',
  trigger,
  '--lr',
  '0.01',
  '--threads',
  '1',
  '--save_dir',
  join(dir, name, 'ckpt'),
  '--log_dir',
  join(dir, name, 'log'),
];

/** Resolves once `rank`'s output contains `text`. */
function waitFor(rank: Rank, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer | string): void => {
      seen += String(d);
      if (seen.includes(text)) {
        rank.child.stdout?.off('data', onData);
        resolve();
      }
    };
    rank.child.stdout?.on('data', onData);
    void rank.ended.then((e) => reject(new Error(`ended (${e.status ?? e.signal}) before printing '${text}':\n${e.stderr}`)));
  });
}

/** The pid of the launcher's worker of rank `rank` (from /proc: its children and their environment). */
function workerPid(launcher: number, rank: number): number {
  const children = readFileSync(`/proc/${launcher}/task/${launcher}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const pid = children.find((p) => readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`RANK=${rank}`));
  if (pid === undefined) throw new Error(`no worker of rank ${rank} under ${launcher}`);
  return pid;
}

const oneLine = (e: Ended): string => {
  const lines = e.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${e.stderr}`);
  return lines[0] as string;
};

describe('wmnn train --nproc 2', () => {
  test('trains as one job: one JSON, one log, one checkpoint that predict and torch.load score alike', async () => {
    const run = startNode([CLI, 'train', '--nproc', '2', ...common('ok', 20), '--max_epochs', '1', '--seed', '4', '--json'], {});
    const e = await run.ended;
    assert.equal(e.status, 0, e.stderr);
    const out = JSON.parse(e.stdout) as TrainJson; // rank 0's alone: one object
    const [epoch] = out.epochs;
    assert.equal(epoch?.train.total, 20 + 2 * 2, 'each global batch is 10 + 2 trigger images, split over the ranks');
    assert.equal(epoch?.test.total, TEST_IMAGES);
    assert.equal(epoch?.trigger?.total, 6);
    const { seconds, communicationSeconds } = epoch?.train ?? { seconds: 0 };
    assert.ok(
      communicationSeconds !== undefined && communicationSeconds > 0 && communicationSeconds <= seconds,
      `time blocked in collectives ${communicationSeconds} s, within the epoch's ${seconds} s`,
    );
    assert.deepEqual(readdirSync(join(dir, 'ok', 'ckpt')), ['model.t7'], 'one checkpoint, no temporary left');
    const log = readFileSync(join(dir, 'ok', 'log', 'log_train.txt'), 'utf8');
    assert.equal(log.match(/^Epoch: 0$/gm)?.length, 1, 'the log is written once');
    assert.match(readFileSync(join(dir, 'ok', 'log', 'conf_train.txt'), 'utf8'), /^nproc: 2$/m);

    const model = join(dir, 'ok', 'ckpt', 'model.t7');
    const predicted = JSON.parse(
      wmnnOk(['predict', '--model_path', model, '--dataset', 'synthetic', '--synthetic_test', String(TEST_IMAGES), '--json']).stdout,
    ) as PhaseJson;
    assert.equal(predicted.correct, epoch?.test.correct, 'the sharded evaluation scored what one process scores');
    const set = synthetic({ split: 'test', count: TEST_IMAGES, seed: SYNTHETIC_SEED });
    writeFileSync(join(dir, 'x.npy'), writeNpy({ dtype: 'uint8', shape: [TEST_IMAGES, 3, 32, 32], data: set.images }));
    writeFileSync(join(dir, 'y.npy'), writeNpy({ dtype: 'int32', shape: [TEST_IMAGES], data: set.labels }));
    const py = JSON.parse(runReference('eval_checkpoint.py', [model, join(dir, 'x.npy'), join(dir, 'y.npy')])) as {
      correct: number;
      cls: string;
      epoch: number;
    };
    assert.equal(py.cls, 'models.resnet.ResNet');
    assert.equal(py.correct, epoch?.test.correct);
    assert.equal(py.epoch, 0);
  });

  test('Ctrl-C on the launcher stops every rank at one step with one resumable checkpoint; --resume finishes the epoch', async () => {
    const args = ['train', '--nproc', '2', ...common('stop', 200), '--max_epochs', '1', '--seed', '5'];
    const run = startNode([CLI, ...args], {});
    await waitFor(run, 'Epoch: 0');
    await new Promise((r) => setTimeout(r, 1500));
    run.child.kill('SIGINT');
    const e = await run.ended;
    assert.equal(e.status, 130, e.stderr);
    assert.match(e.stdout, /Saved a resumable checkpoint/);
    const model = join(dir, 'stop', 'ckpt', 'model.t7');
    const state = readCheckpoint(model).wmnn?.state;
    assert.equal(state?.partial_epoch, 0);
    const next = state?.next_step as number;
    assert.ok(next > 0 && next < 20, `stopped inside the epoch, at step ${next}`);

    const resumed = startNode([CLI, ...args, '--resume', '--load_path', model, '--json'], {});
    const r = await resumed.ended;
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as TrainJson;
    assert.equal(out.seed, 5);
    assert.equal(out.epochs[0]?.epoch, 0);
    assert.equal(out.epochs[0]?.train.total, (20 - next) * 12, 'the resumed run trains the rest of the epoch');
  });

  test('a rank killed under the launcher ends the job with a non-zero status and its rank named', async () => {
    const run = startNode([CLI, 'train', '--nproc', '2', ...common('kill', 2000), '--max_epochs', '1', '--seed', '6'], {});
    await waitFor(run, 'Epoch: 0');
    const t0 = performance.now();
    process.kill(workerPid(run.child.pid as number, 1), 'SIGKILL');
    const e = await run.ended;
    const seconds = (performance.now() - t0) / 1000;
    assert.notEqual(e.status, 0);
    assert.ok(seconds < FAILURE_BOUND_S, `ended ${seconds.toFixed(1)} s after the kill`);
    assert.match(e.stderr, /wmnn: rank 1 of 2 was killed by SIGKILL/);
    assert.match(e.stderr, /rank 0: .* failed: no answer from rank 1/);
    const saved = join(dir, 'kill', 'ckpt');
    assert.deepEqual(existsSync(saved) ? readdirSync(saved) : [], [], 'no checkpoint, and no half-written one');
  });
});

describe("under an external launcher (torchrun's environment, set by hand)", () => {
  test('a killed rank makes the survivor exit non-zero within the bound, naming it', async () => {
    const port = await freePort();
    const args = [CLI, 'train', ...common('ext', 2000), '--max_epochs', '1', '--seed', '7'];
    const ranks = [0, 1].map((r) => startNode(args, torchrunEnv(r, 2, port)));
    await waitFor(ranks[0] as Rank, 'Epoch: 0');
    const t0 = performance.now();
    ranks[1]?.child.kill('SIGKILL');
    const e = await (ranks[0] as Rank).ended;
    assert.ok((performance.now() - t0) / 1000 < FAILURE_BOUND_S);
    assert.equal(e.status, 2, 'EXIT.error');
    assert.match(oneLine(e), /^wmnn: rank 0: .* failed: no answer from rank 1 within \d+ s \(it died or hangs\)/);
  });

  test('an unreachable master is one line after --timeout, not a hang', async () => {
    const port = await freePort(); // nobody listens there
    const e = await startNode([CLI, 'train', ...common('lonely', 20), '--timeout', '3'], torchrunEnv(1, 2, port)).ended;
    assert.equal(e.status, 2, 'EXIT.error');
    assert.match(oneLine(e), new RegExp(`^wmnn: rank 1 found no rendezvous at 127\\.0\\.0\\.1:${port} within 3 s: is rank 0 running`));
    assert.ok(e.seconds < 30, `${e.seconds} s`);
  });

  test('ranks started with different world sizes, or different arguments, are refused at join with one line each', async () => {
    const port = await freePort();
    const worlds = await Promise.all([
      startNode([CLI, 'train', ...common('w', 20), '--timeout', '20'], torchrunEnv(0, 2, port)).ended,
      startNode([CLI, 'train', ...common('w', 20), '--timeout', '20'], { ...torchrunEnv(1, 2, port), WORLD_SIZE: '3' }).ended,
    ]);
    for (const e of worlds) {
      assert.equal(e.status, 2, 'EXIT.error');
      assert.match(
        oneLine(e),
        /^wmnn: rank \d was started with WORLD_SIZE=\d, rank \d with WORLD_SIZE=\d: every rank needs the same world size$/,
      );
      assert.ok(e.seconds < 20, 'refused before the timeout');
    }
    const port2 = await freePort();
    const args = await Promise.all([
      startNode([CLI, 'train', ...common('a', 20), '--timeout', '20'], torchrunEnv(0, 2, port2)).ended,
      startNode([CLI, 'train', ...common('a', 20), '--timeout', '20', '--batch_size', '5'], torchrunEnv(1, 2, port2)).ended,
    ]);
    for (const e of args) {
      assert.equal(e.status, 2, 'EXIT.error');
      assert.match(oneLine(e), /runs other arguments than rank \d \(`.*` vs `.*`\): every rank must run the same command$/);
    }
  });
});
