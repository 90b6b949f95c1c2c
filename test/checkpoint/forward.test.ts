// Reading through to the engine: every kind of file PyTorch writes (zip, legacy, cuda:0-tagged,
// DataParallel, state_dicts, 100 classes) loads into the native model, whose logits match
// PyTorch's own for that file within 1e-4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../src/checkpoint/npy.js';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { Model } from '../../src/native/engine.js';
import { classesOf, loadInto } from '../../src/training/persist.js';
import { runReference, tempDir } from '../helpers/python.js';

const FILES = [
  'trained-zip.t7',
  'trained-legacy.t7',
  'cuda-tagged-zip.t7',
  'dataparallel-zip.t7',
  'statedict-zip.t7',
  'statedict-dp-bare.t7',
  'c100-zip.t7',
];

test("each reference file gives PyTorch's logits within 1e-4 once loaded into the engine", async (t) => {
  const { dir, cleanup } = tempDir('ckpt-forward');
  t.after(cleanup);
  runReference('make_checkpoints.py', [dir, ...FILES]);
  const n = 4;
  let s = 17;
  const x = Float32Array.from({ length: n * 3072 }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 4);
  writeFileSync(join(dir, 'x.npy'), writeNpy({ dtype: 'float32', shape: [n, 3, 32, 32], data: x }));
  runReference('logits_of.py', [join(dir, 'x.npy'), dir, ...FILES.map((f) => join(dir, f))]);
  await Promise.all(
    FILES.map(async (file) => {
      const ckpt = readCheckpoint(join(dir, file));
      const model = new Model({ numClasses: classesOf(ckpt), seed: 0, threads: 1, device: 'cpu' }); // PyTorch's side runs on the CPU
      loadInto(model, ckpt, { momentum: false });
      const ours = await model.forward(x, false);
      const theirs = readNpy(new Uint8Array(readFileSync(join(dir, `${file}.npy`))));
      assert.deepEqual(ours.shape, theirs.shape, file);
      let worst = 0;
      ours.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - Number(theirs.data[i])))));
      assert.ok(worst < 1e-4, `${file}: max |diff| ${worst}`);
    }),
  );
});
