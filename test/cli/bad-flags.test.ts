// Absurd flags are refused before any work: exit status 2 (every command, verify included), one
// `wmnn:` line naming the flag, and nothing created, not even an empty output folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { wmnn } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

const SYNTH = ['--dataset', 'synthetic', '--synthetic_train', '20', '--synthetic_test', '10'];

const CASES: [string[], RegExp][] = [
  [['verify', '--alpha', 'abc'], /--alpha .*'abc'/],
  [['verify', '--no_such_flag'], /unknown option '--no_such_flag'/],
  [['verify', '--alpha', '1.5'], /--alpha must be between 0 and 1/],
  [['train', ...SYNTH, '--lr', 'Infinity'], /--lr .*'Infinity'.*finite/],
  [['train', ...SYNTH, '--lr', '0'], /--lr must be more than 0/],
  [['train', ...SYNTH, '--save_model', ''], /--save_model must be a file name/],
  [['train', ...SYNTH, '--save_model', 'a/b.t7'], /--save_model must be a file name/],
  [['train', '--dataset', 'synthetic', '--synthetic_train', '0'], /--synthetic_train must be more than 0/],
  [['train', ...SYNTH, '--threads', '-1'], /--threads must be 0 or more/],
  [['train', ...SYNTH, '--batch_size', '0'], /--batch_size must be more than 0/],
  [['train', ...SYNTH, '--save_dir', '/proc/wmnn-x'], /--save_dir \/proc\/wmnn-x: cannot write there/],
  [['train', ...SYNTH, '--log_dir', '/proc/wmnn-x/y'], /--log_dir \/proc\/wmnn-x\/y: cannot write there/],
  [['fine-tune', ...SYNTH, '--max_epochs', '-2'], /--max_epochs must be 0 or more/],
  [['predict', '--batch_size', '-5'], /--batch_size must be more than 0/],
  [['attack', '--epochs', '-1'], /--epochs must be 0 or more/],
  [['reproduce', '--attack_lr', '-1'], /--attack_lr must be more than 0/],
  [['reproduce', '--attacks', 'FTLL,nope'], /--attacks: unknown attack 'nope'/],
  [['train', ...SYNTH, '--max_e', 'x'], /--max_epochs .*'x'/],
  [['predict', '--model_path', 'missing.t7'], /--model_path missing\.t7: no checkpoint found there/],
  [['keygen', '--out', '/proc/wmnn-key'], /--out \/proc\/wmnn-key: cannot write there/],
  [['export', 'missing.t7', '/proc/wmnn-x/w.pt', '--format', 'safetensors'], /export: \/proc\/wmnn-x\/w\.pt: cannot write there/],
];

test('absurd flags: exit 2, one line naming the flag, nothing created', (t) => {
  const { dir, cleanup } = tempDir('bad-flags');
  t.after(cleanup);
  for (const [args, message] of CASES) {
    const r = wmnn(args, { cwd: dir });
    const label = `wmnn ${args.join(' ')}`;
    assert.equal(r.status, 2, `${label}: exit status (stderr: ${r.stderr})`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${label}: one line, got:\n${r.stderr}`);
    assert.match(lines[0]!, /^wmnn: /);
    assert.match(lines[0]!, message, label);
    assert.deepEqual(readdirSync(dir), [], `${label}: created nothing in the working folder`);
  }
});
