// `wmnn attack` runs the very fine-tuning routine of `wmnn fine-tune`: with the same --seed, the
// models its FTLL and RTAL attacks make are bit-identical to fine-tune's, private key included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { bytesOf, type Tensor } from '../../src/tensor.js';
import { wmnnOk } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';
import { makeTriggerSet } from '../helpers/trigger.js';

const DATA = ['--dataset', 'synthetic', '--synthetic_train', '100', '--synthetic_test', '40', '--batch_size', '50'];
const SEED = ['--seed', '23'];

const bytes = (t: Tensor): Buffer => Buffer.from(bytesOf(t.data));

function assertIdentical(path: string, reference: string): void {
  const a = readCheckpoint(path);
  const b = readCheckpoint(reference);
  assert.equal(a.tensors.size, b.tensors.size);
  for (const [name, t] of b.tensors) assert.ok(bytes(t).equals(bytes(a.tensors.get(name)!)), `${name} differs`);
  const keyA = new Map(a.wmnn?.tensors ?? []);
  for (const [name, t] of b.wmnn?.tensors ?? []) assert.ok(keyA.has(name) && bytes(t).equals(bytes(keyA.get(name)!)), `${name} differs`);
  assert.equal(a.epoch, b.epoch, 'both number the epochs from the checkpoint, as fine-tune.py does');
}

test('attack --seed S makes the models fine-tune --seed S makes (FTLL and RTAL)', (t) => {
  const { dir, cleanup } = tempDir('attack-ft');
  t.after(cleanup);
  const trigger = join(dir, 'trigger');
  makeTriggerSet(trigger, 4, 10, 3);
  const logs = ['--log_dir', join(dir, 'log')];
  wmnnOk([
    'train',
    ...DATA,
    ...SEED,
    ...logs,
    '-wmt',
    '--wm_path',
    trigger,
    '--wm_batch_size',
    '2',
    '--max_epochs',
    '1',
    '--lr',
    '0.01',
    '--save_dir',
    dir,
    '--json',
  ]);
  const model = join(dir, 'model.t7');
  const tune = ['--load_path', model, '--wm_path', trigger, '--max_epochs', '2', '--lr', '0.01', '--save_dir', dir, '--json'];
  wmnnOk(['fine-tune', ...DATA, ...SEED, ...logs, ...tune, '--runname', 'ftll']);
  wmnnOk(['fine-tune', ...DATA, ...SEED, ...logs, ...tune, '--runname', 'rtal', '--reinitll', '--tunealllayers']);
  const out = join(dir, 'report');
  const attack = ['--model_path', model, '--wm_path', trigger, '--epochs', '2', '--lr', '0.01', '--prune', '', '--attacks', 'FTLL,RTAL'];
  wmnnOk(['attack', ...DATA, ...SEED, ...attack, '--out', out, '--save_models', '--json']);
  assertIdentical(join(out, 'ftll.t7'), join(dir, 'ftllfinetune.t7'));
  assertIdentical(join(out, 'rtal.t7'), join(dir, 'rtalfinetune.t7'));
});
