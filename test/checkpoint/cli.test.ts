// `wmnn inspect` and `wmnn export` through commander, as the CLI runs them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerExport } from '../../src/cli/export.js';
import { registerInspect, type InspectReport } from '../../src/cli/inspect.js';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { runReference, tempDir, tensorSha } from '../helpers/python.js';

let dir = '';
let cleanup = (): void => {};

before(() => {
  ({ dir, cleanup } = tempDir('cli'));
  runReference('make_checkpoints.py', [dir, 'tiny-legacy.t7', 'bad-stride.t7']);
});
after(() => cleanup());

/** Run `wmnn <args>` with the two commands registered; returns what went to stdout. */
async function run(...args: string[]): Promise<string> {
  const program = new Command('wmnn').exitOverride().configureOutput({ writeErr: () => {} });
  registerInspect(program);
  registerExport(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test('inspect --json reports container, keys, model, flags, acc, epoch, globals and tensors', async () => {
  const r = JSON.parse(await run('inspect', join(dir, 'tiny-legacy.t7'), '--json')) as InspectReport;
  assert.equal(r.container, 'legacy');
  assert.equal(r.archiveName, null);
  assert.equal(r.pickleProtocol, 2);
  assert.deepEqual(r.topKeys, ['net', 'acc', 'epoch']);
  assert.equal(r.modelClass, 'models.resnet.ResNet');
  assert.equal(r.training, false);
  assert.deepEqual(r.acc, { value: 10, kind: 'float-tensor', dtype: 'float32' });
  assert.equal(r.epoch, 1);
  assert.ok(r.globals.includes('torch._utils._rebuild_parameter'));
  assert.equal(r.tensors.length, 107);
  assert.deepEqual(r.tensors[0], { name: 'conv1.weight', dtype: 'float32', shape: [2], requiresGrad: true });
  assert.deepEqual(r.tensors[5], { name: 'bn1.num_batches_tracked', dtype: 'int64', shape: [] });
});

test('inspect (text) lists tensors and shows model problems instead of failing', async () => {
  const text = await run('inspect', join(dir, 'bad-stride.t7'));
  assert.match(text, /^container: +zip \(folder 'bad-stride\/'\), pickle protocol 2$/m);
  assert.match(text, /^model: +models\.resnet\.ResNet \(in 'net'\), training=True$/m);
  assert.match(text, /^ {2}layer4\.1\.bn2\.num_batches_tracked +int64 +\(\)$/m);
  assert.match(text, /^problem: layer2\.0\.conv1\.stride is \(1, 1\); a ResNet18 has \(2, 2\)$/m);
});

test('inspect refuses a hostile file with the one-line error', async () => {
  const evil = join(dir, 'evil.t7');
  writeFileSync(
    evil,
    Buffer.concat([readFileSync(join(dir, 'tiny-legacy.t7')).subarray(0, 137), Buffer.from('\x80\x02cposix\nsystem\nq\x00.', 'latin1')]),
  );
  await assert.rejects(
    run('inspect', evil),
    /^CheckpointError: evil\.t7: refusing to load: GLOBAL 'posix system' is not allowed \(nothing was executed\)$/,
  );
});

test('export writes a state_dict and a safetensors file with the same tensors', async () => {
  const src = readCheckpoint(join(dir, 'tiny-legacy.t7'));
  const pt = join(dir, 'weights.pt');
  const st = join(dir, 'weights.safetensors');
  assert.match(
    await run('export', join(dir, 'tiny-legacy.t7'), pt, '--format', 'state_dict'),
    /wrote .*weights\.pt \(state_dict, 107 tensors\)/,
  );
  assert.match(await run('export', join(dir, 'tiny-legacy.t7'), st, '--format', 'safetensors'), /\(safetensors, 107 tensors\)/);
  const digest = (m: Map<string, { dtype: string; shape: number[] } & Parameters<typeof tensorSha>[0]>) =>
    [...m].map(([k, t]) => [k, t.dtype, t.shape, tensorSha(t)]);
  assert.deepEqual(digest(readCheckpoint(pt).tensors), digest(src.tensors));
  assert.deepEqual(digest(readSafetensors(readFileSync(st)).tensors), digest(src.tensors));
  await assert.rejects(run('export', join(dir, 'tiny-legacy.t7'), pt, '--format', 'onnx'), /Allowed choices are state_dict, safetensors/);
});
