// `npm run bench -- --nproc N`: data-parallel scaling of `wmnn train`, each run a real job started
// as a user would (`wmnn train --nproc k`), at the original's global batch (100 + 2 trigger images).
// Epoch 0 warms up (oneDNN/cuDNN set-up); epoch 1 is timed (train images/s, from --json).
//  - CPU: 1 process using every core, against N processes sharing the cores. The work is the
//    same, so the efficiency is the throughput ratio; what it loses is communication and lockstep,
//    measured as the time rank 0 was blocked in collectives (communicationSeconds of --json).
//  - CUDA: 1, 2, 4, ... N ranks, one GPU each; efficiency = rate(k) / (k * rate(1)).
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseNproc } from '../src/distributed/launcher.js';
import { buildInfo } from '../src/native/engine.js';
import type { EpochJson } from '../src/training/run.js';

export interface ParallelBenchOptions {
  root: string;
  work: string;
  trigger: string;
  nproc: string;
  device: string;
  /** Batches per epoch. */
  steps: number;
  out: string;
}

interface Run {
  ranks: number;
  threadsPerRank: number;
  imagesPerSecond: number;
  /** rate(k) / (k * rate(1 GPU)) on GPUs; rate(k ranks) / rate(1 process) on CPUs; absent for the baseline. */
  efficiency?: number;
  /** CPU jobs: share of the timed epoch rank 0 spent blocked in collectives. */
  communicationShare?: number;
}

/** The original's global batch: 100 images and 2 trigger images appended. */
const BATCH = 100;
const TRIGGER_BATCH = 2;

function train(o: ParallelBenchOptions, ranks: number, extra: string[]): EpochJson['train'] {
  const dir = join(o.work, `parallel-${ranks}`);
  const args = [
    join(o.root, 'bin', 'wmnn.js'),
    'train',
    '--nproc',
    String(ranks),
    '--amp',
    'off',
    '--dataset',
    'synthetic',
    '--synthetic_train',
    String(o.steps * BATCH),
    '--synthetic_test',
    '100',
    '--batch_size',
    String(BATCH),
    '--wm_batch_size',
    String(TRIGGER_BATCH),
    '--wmtrain',
    '--wm_path',
    o.trigger,
    '--lr',
    '0.01',
    '--max_epochs',
    '2',
    '--seed',
    '1',
    '--save_dir',
    dir,
    '--log_dir',
    dir,
    '--json',
    ...extra,
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`wmnn train --nproc ${ranks} failed (${r.status}): ${r.stderr}`);
  const timed = (JSON.parse(r.stdout) as { epochs: EpochJson[] }).epochs[1];
  if (!timed) throw new Error(`wmnn train --nproc ${ranks}: no timed epoch in its --json output`);
  return timed.train;
}

/** 1, 2, 4, ... up to n, and n itself. */
function rankCounts(n: number): number[] {
  const counts = new Set([n]);
  for (let k = 1; k <= n; k *= 2) counts.add(k);
  return [...counts].sort((a, b) => a - b);
}

const percent = (x: number | undefined): string => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

export function benchParallel(o: ParallelBenchOptions): void {
  const info = buildInfo();
  const gpus = o.device !== 'cpu' && info.cudaAvailable ? info.cudaDevices : 0;
  const requested = parseNproc(o.nproc);
  const n = requested === 'auto' ? Math.max(1, gpus) : requested;
  const cores = cpus().length;
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  // The machine may be shared: the load before and after says how far to trust the numbers.
  const loadBefore = loadavg()[0] ?? 0;
  const runs: Run[] = [];
  if (gpus > 0) {
    if (n > gpus) throw new Error(`--nproc ${n}: only ${gpus} GPU(s) visible`);
    for (const k of rankCounts(n)) {
      const rate = train(o, k, ['--device', 'cuda']).imagesPerSecond;
      const one = runs[0]?.imagesPerSecond ?? rate;
      runs.push({ ranks: k, threadsPerRank: Math.max(1, Math.floor(cores / k)), imagesPerSecond: rate, efficiency: rate / (k * one) });
    }
  } else {
    const alone = train(o, 1, ['--device', 'cpu', '--threads', String(cores)]);
    runs.push({ ranks: 1, threadsPerRank: cores, imagesPerSecond: alone.imagesPerSecond });
    const job = train(o, n, ['--device', 'cpu']);
    runs.push({
      ranks: n,
      threadsPerRank: Math.max(1, Math.floor(cores / n)),
      imagesPerSecond: job.imagesPerSecond,
      efficiency: job.imagesPerSecond / alone.imagesPerSecond,
      ...(job.communicationSeconds !== undefined ? { communicationShare: job.communicationSeconds / job.seconds } : {}),
    });
  }
  const loadAfter = loadavg()[0] ?? 0;
  const where = gpus > 0 ? `${gpus} GPU(s), ${cpuModel}` : `${cores} CPU cores (${cpuModel})`;
  console.log(
    `wmnn data-parallel bench: libtorch ${info.torchVersion}, ${where}, float32, global batch ${BATCH}+${TRIGGER_BATCH}, ` +
      `${o.steps} steps timed; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`,
  );
  if (Math.max(loadBefore, loadAfter) > cores) {
    console.log(`(more runnable processes than the ${cores} cores: other work competed for them)`);
  }
  const columns: [string, number][] = [
    ['ranks', 7],
    ['threads/rank', 14],
    ['train img/s', 12],
    ['per rank', 10],
    ['efficiency', 12],
    ['in collectives', 16],
  ];
  console.log(`\n${columns.map(([h, w], i) => (i < 2 ? h.padEnd(w) : h.padStart(w))).join('')}`);
  for (const r of runs) {
    const cells = [
      String(r.ranks),
      String(r.threadsPerRank),
      r.imagesPerSecond.toFixed(1),
      (r.imagesPerSecond / r.ranks).toFixed(1),
      r.ranks === 1 && gpus === 0 ? '-' : percent(r.efficiency),
      percent(r.communicationShare),
    ];
    console.log(cells.map((c, i) => (i < 2 ? c.padEnd(columns[i]![1]) : c.padStart(columns[i]![1]))).join(''));
  }
  console.log(
    gpus > 0
      ? '\nefficiency: rate(k) / (k * rate(1 GPU))'
      : `\nefficiency: rate(${n} ranks sharing the cores) / rate(1 process on every core); in collectives: share of the timed epoch\n` +
          'rank 0 was blocked in collectives (gradient all-reduce not hidden by the backward pass, buffer broadcast, stop agreement)',
  );
  const report = {
    date: new Date().toISOString(),
    libtorch: info.torchVersion,
    cpus: cores,
    cpuModel,
    gpus,
    steps: o.steps,
    batch: BATCH,
    triggerBatch: TRIGGER_BATCH,
    loadAverage: { before: loadBefore, after: loadAfter },
    runs,
  };
  writeFileSync(o.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`report: ${o.out}`);
}
