// Bad input: one line on stderr naming the file or flag, a non-zero exit, and no files left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model } from '../../src/native/engine.js';
import { saveModel } from '../../src/training/persist.js';
import { wmnn } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';
import { makeTriggerSet } from '../helpers/trigger.js';

const SMALL = ['--synthetic_train', '50', '--synthetic_test', '20', '--max_epochs', '1'];

function expectCleanFailure(dir: string, args: string[], message: RegExp, env?: NodeJS.ProcessEnv): void {
  const save = join(dir, 'out', 'checkpoint');
  const log = join(dir, 'out', 'log');
  const outputs = args[0] === 'predict' ? [] : ['--save_dir', save, '--log_dir', log];
  const r = wmnn([...args, ...outputs], env ? { env } : {});
  assert.notEqual(r.status, 0, `exit status for ${args.join(' ')}`);
  // Status lines (e.g. "Downloading ...") may come first; the error is one line, the last.
  const errors = r.stderr
    .trimEnd()
    .split('\n')
    .filter((l) => l.startsWith('wmnn: '));
  assert.equal(errors.length, 1, `one error line, got:\n${r.stderr}`);
  assert.ok(r.stderr.trimEnd().endsWith(errors[0]!));
  assert.match(errors[0]!, message);
  const left = existsSync(save) ? readdirSync(save) : [];
  assert.deepEqual(left, [], 'no checkpoint');
  assert.ok(!existsSync(log) || readdirSync(log).length === 0, 'no log files');
}

test('no dataset and no network: a one-line message with the manual steps', (t) => {
  const { dir, cleanup } = tempDir('nonet');
  t.after(cleanup);
  mkdirSync(join(dir, 'data'));
  expectCleanFailure(
    dir,
    ['train', '--train_db_path', join(dir, 'data'), '--test_db_path', join(dir, 'data')],
    /CIFAR-10.*(download|by hand)/i,
    { WMNN_CIFAR_URL: 'http://127.0.0.1:9/' },
  );
  assert.deepEqual(
    readdirSync(join(dir, 'data')).filter((f) => !f.startsWith('.')),
    [],
    'nothing that passes as a dataset',
  );
});

test('a labels file with fewer labels than images names the file', (t) => {
  const { dir, cleanup } = tempDir('labels');
  t.after(cleanup);
  makeTriggerSet(join(dir, 'wm'), 4, 10, 1);
  writeFileSync(join(dir, 'wm', 'labels-cifar.txt'), '1.0\n2.0\n');
  expectCleanFailure(
    dir,
    ['train', '--dataset', 'synthetic', ...SMALL, '-wmt', '--wm_path', join(dir, 'wm')],
    /labels-cifar\.txt: 2 labels for 4 images/,
  );
});

test('a checkpoint with another class count is refused, naming the mismatch', (t) => {
  const { dir, cleanup } = tempDir('classes');
  t.after(cleanup);
  const path = join(dir, 'c100.t7');
  saveModel(path, new Model({ numClasses: 100, seed: 0 }), { acc: 0, epoch: 0, state: {} });
  makeTriggerSet(join(dir, 'wm'), 4, 10, 1);
  expectCleanFailure(
    dir,
    ['fine-tune', '--dataset', 'synthetic', ...SMALL, '--wm_path', join(dir, 'wm'), '--load_path', path],
    /c100\.t7: .*linear\.weight has shape \(100, 512\), expected \(10, 512\)/,
  );
  expectCleanFailure(
    dir,
    ['train', '--dataset', 'synthetic', ...SMALL, '--resume', '--load_path', path],
    /linear\.weight has shape \(100, 512\)/,
  );
});

test('an unknown --dataset is named', (t) => {
  const { dir, cleanup } = tempDir('dataset');
  t.after(cleanup);
  expectCleanFailure(
    dir,
    ['train', '--dataset', 'imagenet'],
    /--dataset imagenet is not supported \(choose cifar10, cifar100, fashion-mnist, mnist, synthetic, imagefolder\)/,
  );
});

test('an unwritable save_dir is named before any work', (t) => {
  const { dir, cleanup } = tempDir('savedir');
  t.after(cleanup);
  writeFileSync(join(dir, 'file'), 'not a folder');
  const r = wmnn(['train', '--dataset', 'synthetic', ...SMALL, '--save_dir', join(dir, 'file', 'sub'), '--log_dir', join(dir, 'log')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.trim(), /^wmnn: --save_dir .*file\/sub: cannot write there \(ENOTDIR\)$/);
  assert.ok(!existsSync(join(dir, 'log')));
});

test('a missing checkpoint and bad flag values are one-line errors', (t) => {
  const { dir, cleanup } = tempDir('flags');
  t.after(cleanup);
  expectCleanFailure(dir, ['predict', '--model_path', join(dir, 'nope.t7')], /--model_path .*nope\.t7: no checkpoint found there/);
  expectCleanFailure(dir, ['train', '--dataset', 'synthetic', '--batch_size', '0'], /--batch_size must be more than 0, got 0/);
});
