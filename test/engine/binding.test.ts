// The boundary itself: the loader's advice when the addon cannot load, libtorch errors as
// JavaScript errors, long calls off the JavaScript thread, device and thread choice, --version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { CIFAR_NORMALIZATION } from '../../src/data/normalization.js';
import { buildInfo, Model } from '../../src/native/engine.js';
import { explainLoadError } from '../../src/native/binding.js';
import { wmnnOk } from '../helpers/cli.js';

const ADDON = resolve('build/Release/wmnn.node');

test('a failed load names the cause and the command that fixes it', () => {
  assert.match(
    explainLoadError('Cannot find module', '/nowhere/wmnn.node'),
    /not built \(\/nowhere\/wmnn\.node is missing\); run `npm run setup`/,
  );
  assert.match(
    explainLoadError('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 108', ADDON),
    /built for another Node\.js version than v\d+.*run `npm run setup`/,
  );
  assert.match(
    explainLoadError('libtorch_cpu.so.1.13: cannot open shared object file: No such file or directory', ADDON),
    /cannot find libtorch_cpu\.so\.1\.13.*apt-get install libtorch-dev.*LIBTORCH\/Torch_DIR.*npm run setup/,
  );
  assert.match(
    explainLoadError('libjpeg.so.62: cannot open shared object file: No such file or directory', ADDON),
    /cannot find libjpeg\.so\.62: install it \(`apt-get install libjpeg62-turbo-dev`\), then run `npm run setup`/,
  );
  assert.match(
    explainLoadError('wmnn.node: undefined symbol: _ZN2at4_ops5zeros4callE', ADDON),
    /does not match the libtorch now installed.*npm run setup/,
  );
});

test("libtorch errors arrive as JavaScript errors with libtorch's message", async () => {
  const model = new Model({ numClasses: 10, seed: 0 });
  assert.throws(
    () => model.write('conv1.weight', { dtype: 'float32', shape: [3], data: new Float32Array(3) }),
    /'conv1.weight' has shape \[64, 3, 3, 3\], got \[3\]/,
  );
  assert.throws(() => model.read('nope'), /the model has no tensor named 'nope'/);
  const data = model.upload({ images: new Uint8Array(2 * 3072), labels: Int32Array.from([0, 1]), normalization: CIFAR_NORMALIZATION });
  await assert.rejects(model.trainStep({ data, start: 1, count: 5 }), /batch \[1, 6\) is outside the dataset of 2/);
});

test('a training step runs off the JavaScript thread and returns a Promise', async () => {
  const model = new Model({ numClasses: 10, seed: 0 });
  const data = model.upload({ images: new Uint8Array(64 * 3072).fill(7), labels: new Int32Array(64), normalization: CIFAR_NORMALIZATION });
  let ticks = 0;
  const timer = setInterval(() => (ticks += 1), 1);
  const step = model.trainStep({ data, start: 0, count: 64 });
  assert.ok(step instanceof Promise);
  await step;
  clearInterval(timer);
  assert.ok(ticks > 0, 'the event loop ran during the step');
});

test('devices: cpu explicit, CUDA refused clearly without it, nonsense named', () => {
  assert.equal(new Model({ numClasses: 10, device: 'cpu' }).device, 'cpu');
  if (!buildInfo().cudaAvailable) {
    assert.throws(() => new Model({ numClasses: 10, device: 'cuda:0' }), /device 'cuda:0' requested but this libtorch has no usable CUDA/);
  }
  assert.throws(() => new Model({ numClasses: 10, device: 'tpu' }), /unknown device 'tpu' \(use auto, cpu, cuda or cuda:N\)/);
});

test('threads: every core by default, OMP_NUM_THREADS honoured, an explicit count wins', () => {
  const code = `import { Model } from './src/native/engine.ts'; console.log(new Model({ numClasses: 10, threads: Number(process.argv[1]) }).threads);`;
  const threadsWith = (env: NodeJS.ProcessEnv, arg: string) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, arg], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout.trim());
  };
  const all = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  assert.equal(threadsWith({ OMP_NUM_THREADS: '' }, '0'), Number(all));
  assert.equal(threadsWith({ OMP_NUM_THREADS: '1' }, '0'), 1);
  assert.equal(threadsWith({ OMP_NUM_THREADS: '1' }, '3'), 3);
});

test('wmnn --version names the libtorch in use and whether CUDA is on', () => {
  const info = buildInfo();
  const out = wmnnOk(['--version']).stdout;
  assert.match(out, /^wmnn \d+\.\d+\.\d+\n/);
  assert.ok(out.includes(`libtorch ${info.torchVersion} (${info.torchSource}: ${info.torchDir})`), out);
  assert.match(out, /CUDA (on|off|built)/);
});
