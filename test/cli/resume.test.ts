// --resume: two epochs in one run equal one epoch plus a resumed one (same seed), and a run cut
// by Ctrl-C resumes inside the interrupted epoch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve, join } from 'node:path';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import type { Tensor } from '../../src/tensor.js';
import { wmnnOk } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

const DATA = [
  '--dataset',
  'synthetic',
  '--synthetic_train',
  '200',
  '--synthetic_test',
  '50',
  '--batch_size',
  '50',
  '--lr',
  '0.01',
  '--seed',
  '11',
  '--json',
];

function maxRelativeDiff(a: Tensor, b: Tensor): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.data.length; i++) {
    diff = Math.max(diff, Math.abs(Number(a.data[i]) - Number(b.data[i])));
    scale = Math.max(scale, Math.abs(Number(b.data[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

function assertSameModel(path: string, reference: string): void {
  const a = readCheckpoint(path);
  const b = readCheckpoint(reference);
  for (const [name, t] of b.tensors) {
    const d = maxRelativeDiff(a.tensors.get(name)!, t);
    assert.ok(d <= 1e-5, `${name}: relative difference ${d}`);
  }
  for (const [name, m] of b.wmnn?.momentum ?? []) {
    const other = new Map(a.wmnn?.momentum ?? []).get(name);
    assert.ok(other && maxRelativeDiff(other, m) <= 1e-5, `momentum of ${name}`);
  }
}

test('2 epochs in one run equal 1 epoch + --resume for 1, which continues at epoch 1 with the momentum restored', (t) => {
  const { dir, cleanup } = tempDir('resume');
  t.after(cleanup);
  const at = (name: string) => ['--save_dir', join(dir, name), '--log_dir', join(dir, `log-${name}`)];
  wmnnOk(['train', ...DATA, ...at('straight'), '--max_epochs', '2']);
  wmnnOk(['train', ...DATA, ...at('split'), '--max_epochs', '1']);
  const first = join(dir, 'split', 'model.t7');
  const saved = readCheckpoint(first);
  assert.equal(saved.wmnn?.momentum?.length, saved.requiresGrad.size, 'momentum of every parameter is saved');
  const resumed = JSON.parse(wmnnOk(['train', ...DATA, ...at('split'), '--max_epochs', '1', '--resume', '--load_path', first]).stdout) as {
    epochs: { epoch: number }[];
  };
  assert.deepEqual(
    resumed.epochs.map((e) => e.epoch),
    [1],
  );
  assertSameModel(first, join(dir, 'straight', 'model.t7'));
  assert.equal(readCheckpoint(first).epoch, 1);
});

test('Ctrl-C finishes the step, writes a resumable checkpoint, exits 130; --resume completes the same epochs', async (t) => {
  const { dir, cleanup } = tempDir('sigint');
  t.after(cleanup);
  const at = (name: string) => ['--save_dir', join(dir, name), '--log_dir', join(dir, `log-${name}`)];
  const args = ['train', ...DATA, '--batch_size', '20', '--max_epochs', '1'];
  wmnnOk([...args, ...at('straight')]);

  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve('src/cli/index.ts'), ...args.filter((a) => a !== '--json'), ...at('cut')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!sent && stdout.includes('Epoch: 0')) {
      sent = true;
      setTimeout(() => child.kill('SIGINT'), 1500); // a few steps into the epoch
    }
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  assert.equal(code, 130, stdout);
  const cut = join(dir, 'cut', 'model.t7');
  const saved = readCheckpoint(cut);
  assert.equal(saved.epoch, -1, 'no epoch finished');
  const nextStep = saved.wmnn?.state?.next_step;
  assert.ok(typeof nextStep === 'number' && nextStep > 0 && nextStep < 10, `stopped at step ${String(nextStep)}`);
  wmnnOk([...args, ...at('cut'), '--resume', '--load_path', cut]);
  assertSameModel(cut, join(dir, 'straight', 'model.t7'));
});
