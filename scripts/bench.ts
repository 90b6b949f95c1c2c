// `npm run bench`: wmnn against the original's PyTorch loop on the same machine, in one run.
//  1. training images/s at the original's batch (100 + 2 trigger images), wmnn (float32, and bf16
//     where --amp auto finds it native; the CPU model and its features are printed first)
//     against the reference loop of scripts/bench_reference.py (torchvision transforms, DataLoader
//     with 4 workers, loss.item() per step) with torch's default threads and with every core;
//  2. evaluation images/s, the same pairs;
//  3. verification at scale (scripts/bench-scale.ts): cold `wmnn predict --testwm` against the
//     reference predict.py with the profile of its phases, and `verify --models` over 50
//     checkpoints against one cold verify, on the paper's trigger set (../shared/trigger_set) or
//     the demo one.
// Prints a table with ratios (wmnn / reference) and writes bench-report.json.
// Flags: --steps N (timed steps, default 15), --warmup N (default 3), --out FILE, --device D,
//        --orig DIR --cifar DIR (time an original checkout's train.py for one epoch on real CIFAR-10),
//        --nproc N|auto (instead: data-parallel scaling of `wmnn train --nproc`, scripts/bench-parallel.ts).
//        --only scale (just part 3), --reps N (cold runs of part 3, median; default 3), --models N (default 50).
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeNpy } from '../src/checkpoint/npy.js';
import { synthetic } from '../src/data/synthetic.js';
import { CIFAR_NORMALIZATION } from '../src/data/normalization.js';
import { loadTriggerSet } from '../src/data/trigger-set.js';
import { buildInfo, hardware, Model, resolveDevice, type Amp } from '../src/native/engine.js';
import { choosePrecision } from '../src/training/precision.js';
import { evaluate, trainEpoch } from '../src/training/loop.js';
import { startProgress } from '../src/training/progress.js';
import { benchScale, printScale } from './bench-scale.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
// Debian's PyTorch, or WMNN_REFERENCE_PYTHON's (as in the tests, test/helpers/python.ts).
const PYTHON = process.env.WMNN_REFERENCE_PYTHON ?? '/usr/bin/python3';
const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    out: { type: 'string', default: join(ROOT, 'bench-report.json') },
    device: { type: 'string', default: 'auto' },
    orig: { type: 'string' },
    cifar: { type: 'string' },
    nproc: { type: 'string' },
    only: { type: 'string' },
    reps: { type: 'string', default: '3' },
    models: { type: 'string', default: '50' },
  },
});
const STEPS = Number(flags.steps);
const WARMUP = Number(flags.warmup);
const BATCH = 100;
const WM_BATCH = 2;
const work = join(ROOT, 'build', 'bench');
mkdirSync(work, { recursive: true });
const paperTrigger = resolve(ROOT, '..', 'shared', 'trigger_set');
const trigger = existsSync(paperTrigger) ? paperTrigger : join(ROOT, 'data', 'trigger_set');
const quiet = () => startProgress({ mode: 'silent' });
if (flags.nproc !== undefined) {
  const { benchParallel } = await import('./bench-parallel.js');
  const out = flags.out.replace(/\.json$/, '-parallel.json');
  benchParallel({ root: ROOT, work, trigger, nproc: flags.nproc, device: flags.device, steps: STEPS, out });
  process.exit(0);
}

function python(script: string, args: string[]): { out: string; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(PYTHON, [join(ROOT, script), ...args], {
    env: { ...process.env, PYTHONPATH: join(ROOT, 'test', 'reference') },
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  return { out: r.stdout, seconds: (performance.now() - t0) / 1000 };
}

interface Rates {
  label: string;
  device: string;
  threads: number;
  train: number;
  evalRate: number;
}

const wmSet = await loadTriggerSet({ path: trigger, labelsFile: 'labels-cifar.txt', numClasses: 10, normalization: CIFAR_NORMALIZATION });

async function wmnnRates(amp: Amp, threads: number): Promise<Rates> {
  const model = new Model({ numClasses: 10, device: flags.device, threads, amp, seed: 0 });
  model.setSgd({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const wm = model.upload(wmSet);
  const warm = model.upload(synthetic({ split: 'train', count: WARMUP * BATCH, seed: 2 }));
  await trainEpoch(model, { data: warm, batchSize: BATCH, trigger: { data: wm, batchSize: WM_BATCH }, seed: 0, progress: quiet() });
  const timed = model.upload(synthetic({ split: 'train', count: STEPS * BATCH, seed: 1 }));
  const r = await trainEpoch(model, {
    data: timed,
    batchSize: BATCH,
    trigger: { data: wm, batchSize: WM_BATCH },
    seed: 1,
    progress: quiet(),
  });
  const test = model.upload(synthetic({ split: 'test', count: 2000, seed: 1 }));
  await evaluate(model, warm, BATCH, quiet());
  const e = await evaluate(model, test, BATCH, quiet());
  return {
    label: `wmnn ${amp === 'off' ? 'float32' : amp}`,
    device: model.device,
    threads: model.threads,
    train: r.total / r.seconds,
    evalRate: e.total / e.seconds,
  };
}

function referenceRates(threads: number): Rates {
  const set = synthetic({ split: 'train', count: (WARMUP + STEPS) * BATCH, seed: 1 });
  const test = synthetic({ split: 'test', count: 2000, seed: 1 });
  const files = {
    images: join(work, 'x.npy'),
    labels: join(work, 'y.npy'),
    test_images: join(work, 'tx.npy'),
    test_labels: join(work, 'ty.npy'),
  };
  writeFileSync(files.images, writeNpy({ dtype: 'uint8', shape: [set.count, 3, 32, 32], data: set.images }));
  writeFileSync(files.labels, writeNpy({ dtype: 'int32', shape: [set.count], data: set.labels }));
  writeFileSync(files.test_images, writeNpy({ dtype: 'uint8', shape: [test.count, 3, 32, 32], data: test.images }));
  writeFileSync(files.test_labels, writeNpy({ dtype: 'int32', shape: [test.count], data: test.labels }));
  const job = join(work, `job-${threads}.json`);
  writeFileSync(
    job,
    JSON.stringify({
      ...files,
      trigger,
      steps: STEPS,
      warmup: WARMUP,
      batch_size: BATCH,
      wm_batch_size: WM_BATCH,
      threads,
      device: flags.device,
    }),
  );
  const r = JSON.parse(python('scripts/bench_reference.py', [job]).out) as {
    device: string;
    threads: number;
    train_images: number;
    train_seconds: number;
    eval_images: number;
    eval_seconds: number;
  };
  return {
    label: `PyTorch reference (${threads === 0 ? 'default threads' : `${threads} threads`})`,
    device: r.device,
    threads: r.threads,
    train: r.train_images / r.train_seconds,
    evalRate: r.eval_images / r.eval_seconds,
  };
}

function original(): { wmnn: number; reference: number } | null {
  if (!flags.orig) return null;
  if (!flags.cifar) throw new Error('--orig needs --cifar DIR (a folder holding cifar-10-batches-py/): the original downloads otherwise');
  const args = [
    '--max_epochs',
    '1',
    '--train_db_path',
    flags.cifar,
    '--test_db_path',
    flags.cifar,
    '--wmtrain',
    '--wm_path',
    trigger,
    '--save_dir',
    join(work, 'orig-ckpt'),
    '--log_dir',
    join(work, 'orig-log'),
  ];
  // The original reads the terminal size with `stty size` at import: give it a pseudo-terminal.
  let t0 = performance.now();
  const o = spawnSync('script', ['-qfec', `${PYTHON} train.py ${args.join(' ')}`, '/dev/null'], {
    cwd: flags.orig,
    encoding: 'utf8',
    env: { ...process.env, COLUMNS: '120', LINES: '40' },
  });
  if (o.status !== 0) throw new Error(`the original's train.py failed: ${o.stdout.slice(-500)}`);
  const reference = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const w = spawnSync(
    process.execPath,
    [join(ROOT, 'bin', 'wmnn.js'), 'train', ...args, '--save_dir', join(work, 'wmnn-ckpt'), '--log_dir', join(work, 'wmnn-log')],
    { encoding: 'utf8' },
  );
  if (w.status !== 0) throw new Error(`wmnn train failed: ${w.stderr}`);
  return { wmnn: (performance.now() - t0) / 1000, reference };
}

const info = buildInfo();
const device = resolveDevice(flags.device!);
const hw = hardware(device);
const auto = choosePrecision('auto', device, hw);
const features = Object.entries(hw.cpu)
  .filter(([k, v]) => k !== 'model' && v === true)
  .map(([k]) => k);
console.log(
  `wmnn bench: ${hw.cpu.model || 'unknown CPU'} (${cpus().length} cores; ${features.join(', ') || 'no AVX2'}), libtorch ${info.torchVersion}, CUDA ${info.cudaAvailable ? 'yes' : 'no'}`,
);
console.log(`--amp auto: ${auto.why}; ${STEPS} timed steps of ${BATCH}+${WM_BATCH} images after ${WARMUP} warm-up steps`);
const scaleOnly = flags.only === 'scale';
if (flags.only !== undefined && !scaleOnly) throw new Error(`--only ${flags.only}: the one part that runs alone is 'scale'`);
const rows: Rates[] = [];
if (!scaleOnly) {
  rows.push(referenceRates(0), referenceRates(cpus().length));
  // Emulated bf16 runs at a twentieth of float32's speed: it is measured only where it is native.
  for (const amp of auto.amp === 'off' ? (['off'] as const) : (['off', auto.amp] as const)) rows.push(await wmnnRates(amp, 0));
  const base = rows[0]!;
  const fmt = (x: number) => x.toFixed(1).padStart(8);
  console.log(`\n${'side'.padEnd(40)}${'device'.padEnd(8)}threads   train img/s  ratio   eval img/s  ratio`);
  for (const r of rows) {
    const ratio = (x: number, y: number): string => `${(x / y).toFixed(2).padStart(5)}x`;
    const side = `${r.label.padEnd(40)}${r.device.padEnd(8)}${String(r.threads).padStart(7)}`;
    console.log(`${side}   ${fmt(r.train)}  ${ratio(r.train, base.train)}   ${fmt(r.evalRate)}  ${ratio(r.evalRate, base.evalRate)}`);
  }
}
const scale = await benchScale({ root: ROOT, work, trigger, reps: Number(flags.reps), models: Number(flags.models), python });
printScale(scale, trigger);
const orig = scaleOnly ? null : original();
if (orig)
  console.log(
    `one epoch of the original's train.py --wmtrain: ${orig.reference.toFixed(0)} s; wmnn train: ${orig.wmnn.toFixed(0)} s (${(orig.reference / orig.wmnn).toFixed(2)}x faster)`,
  );
const report = {
  date: new Date().toISOString(),
  libtorch: info.torchVersion,
  cpus: cpus().length,
  cpuModel: hw.cpu.model,
  cpuFeatures: features,
  ampAuto: auto.why,
  steps: STEPS,
  warmup: WARMUP,
  batch: BATCH,
  wmBatch: WM_BATCH,
  rows,
  ratiosAgainst: rows[0]?.label ?? null,
  scale,
  original: orig,
};
writeFileSync(flags.out!, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nreport: ${flags.out}`);
