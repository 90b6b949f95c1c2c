// Flag parity with the original scripts: every flag, its spelling and default, as argparse
// declares them in train.py, predict.py and fine-tune.py (written out here independently).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { confLines, normalizeArgv, type FlagTable } from '../../src/cli/flags.js';
import { TRAIN_TABLE } from '../../src/cli/train.js';

const ORIGINAL: Record<string, [string, string | number | boolean][]> = {
  train: [
    ['lr', 0.1],
    ['train_db_path', './data'],
    ['test_db_path', './data'],
    ['dataset', 'cifar10'],
    ['wm_path', './data/trigger_set/'],
    ['wm_lbl', 'labels-cifar.txt'],
    ['batch_size', 100],
    ['wm_batch_size', 2],
    ['max_epochs', 60],
    ['lradj', 20],
    ['save_dir', './checkpoint/'],
    ['save_model', 'model.t7'],
    ['load_path', './checkpoint/ckpt.t7'],
    ['resume', false],
    ['wmtrain', false],
    ['log_dir', './log'],
    ['runname', 'train'],
  ],
  predict: [
    ['model_path', 'checkpoint/teacher-cifar100-2.t7'],
    ['wm_path', './data/trigger_set/'],
    ['wm_lbl', 'labels-cifar.txt'],
    ['testwm', false],
    ['db_path', './data'],
  ],
  'fine-tune': [
    ['lr', 0.001],
    ['train_db_path', './data'],
    ['test_db_path', './data'],
    ['dataset', 'cifar10'],
    ['wm_path', './data/trigger_set/'],
    ['wm_lbl', 'labels-cifar.txt'],
    ['batch_size', 100],
    ['max_epochs', 20],
    ['load_path', './checkpoint/model.t7'],
    ['save_dir', './checkpoint/'],
    ['save_model', 'finetune.t7'],
    ['log_dir', './log'],
    ['runname', 'finetune'],
    ['tunealllayers', false],
    ['reinitll', false],
  ],
};

async function command(name: string): Promise<Command> {
  const cmd = (await buildProgram()).commands.find((c) => c.name() === name);
  assert.ok(cmd, name);
  return cmd;
}

for (const [name, flags] of Object.entries(ORIGINAL)) {
  test(`${name}: every original flag exists with the original default`, async () => {
    const cmd = await command(name);
    for (const [flag, def] of flags) {
      const opt = cmd.options.find((o) => o.long === `--${flag}`);
      assert.ok(opt, `--${flag} is missing`);
      assert.equal(opt.defaultValue, def, `--${flag} default`);
    }
  });

  test(`${name}: every original flag is accepted with a value of its type`, async () => {
    const cmd = await command(name);
    const argv = flags.flatMap(([flag, def]) =>
      typeof def === 'boolean' ? [`--${flag}`] : [`--${flag}`, typeof def === 'number' ? '7' : 'x'],
    );
    const parsed = cmd.parseOptions(argv);
    assert.deepEqual(parsed.unknown, []);
    const opts = cmd.opts<Record<string, unknown>>();
    // A repeatable flag (predict's --model_path) holds the list of the values given.
    const value = (flag: string): unknown => (Array.isArray(opts[flag]) ? (opts[flag] as unknown[]).at(-1) : opts[flag]);
    for (const [flag, def] of flags) assert.equal(value(flag), typeof def === 'boolean' ? true : typeof def === 'number' ? 7 : 'x', flag);
  });
}

test('argparse spellings: -wmt, -r, unique prefixes, --flag=value; ambiguity is an error', () => {
  const table: FlagTable = TRAIN_TABLE;
  assert.deepEqual(normalizeArgv(['-wmt', '-r', '--max_e', '5', '--batch=20'], table), [
    '--wmtrain',
    '--resume',
    '--max_epochs',
    '5',
    '--batch_size=20',
  ]);
  assert.throws(() => normalizeArgv(['--wm', 'x'], table), /ambiguous option: --wm could match --wm_path, --wm_lbl, --wm_batch_size/);
});

test('typed flags reject bad values as argparse does', async () => {
  const cmd = (await command('train')).exitOverride().configureOutput({ writeErr: () => {} });
  assert.throws(() => cmd.parse(['--batch_size', '1.5'], { from: 'user' }), /invalid int value: '1.5'/);
});

test('the conf file lists the original flags in declaration order, Python spelling, additions only when given', async () => {
  const cmd = await command('train');
  cmd.parseOptions(['--lr', '1', '--seed', '4']);
  const opts = cmd.opts<Record<string, unknown>>();
  const lines = confLines(TRAIN_TABLE, opts, (n) => n === 'seed').map(([k, v]) => `${k}: ${v}`);
  assert.deepEqual(lines.slice(0, 2), ['lr: 1.0', 'train_db_path: ./data']);
  assert.equal(lines[13], 'resume: False');
  assert.deepEqual(lines.slice(-2), ['runname: train', 'seed: 4']);
  assert.equal(lines.length, 18);
});
