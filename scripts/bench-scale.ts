// The verification part of `npm run bench` (issue "verification at scale"), measured in one run:
//  1. cold `wmnn predict --testwm` on the trigger set against the original's predict.py
//     (scripts/predict_reference.py), each a new process, the median of a few runs; the profile
//     of wmnn's median run (WMNN_PROFILE): each phase's share of the wall time; and the fixed
//     costs beside it: Node alone, and a Node process that only loads the addon (libtorch);
//  2. `wmnn verify --models DIR` over 50 checkpoints against one cold `wmnn verify`: what each
//     model after the first costs, as a fraction of the cold verify.
// The checkpoints are wmnn's own (with SGD momentum, 89 MB): a few distinct ones, hard-linked
// to make the 50 files (each still read from its own path).
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR_NORMALIZATION } from '../src/data/normalization.js';
import { Model } from '../src/native/engine.js';
import { PHASES, phaseMs, type Profile } from '../src/profile.js';
import { saveModel } from '../src/training/persist.js';

export interface ScaleOptions {
  root: string;
  work: string;
  trigger: string;
  /** Runs of each cold measurement; the median is reported. */
  reps: number;
  /** Models of the verify --models run. */
  models: number;
  python: (script: string, args: string[]) => { seconds: number };
}

export interface ScaleReport {
  nodeAloneSeconds: number;
  /** A Node process that only loads the addon (and so libtorch), less Node alone. */
  addonLoadSeconds: number;
  coldPredict: { wmnn: number[]; reference: number[]; wmnnMedian: number; referenceMedian: number; ratio: number; profile: Profile };
  verifyMany: {
    models: number;
    coldVerify: number[];
    coldVerifyMedian: number;
    manySeconds: number;
    perExtraModel: number;
    ratio: number;
    maxRssMiB: number;
    /** The profile of the verify --models run: its forward passes over the number of models. */
    forwardPerModel: number;
  };
}

/** Distinct checkpoints made for the run; the rest of the folder are hard links to them. */
const DISTINCT = 5;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** A wmnn training checkpoint: weights from `seed`, one SGD step taken so that it carries momentum. */
async function wmnnCheckpoint(path: string, seed: number): Promise<void> {
  const m = new Model({ numClasses: 10, seed });
  m.setSgd({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const data = m.upload({
    images: new Uint8Array(4 * 3072).fill(seed),
    labels: Int32Array.of(0, 1, 2, 3),
    normalization: CIFAR_NORMALIZATION,
  });
  data.newEpoch(false, false);
  await m.trainStep({ data, start: 0, count: 4 });
  saveModel(path, m, { acc: 0, epoch: 0, state: { seed } });
  m.release();
}

function timedRun(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { seconds: number; status: number | null; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  return { seconds: (performance.now() - t0) / 1000, status: r.status, stderr: r.stderr };
}

function wmnn(root: string, args: string[], env?: NodeJS.ProcessEnv, okStatuses: readonly number[] = [0]): number {
  const r = timedRun(process.execPath, [join(root, 'bin', 'wmnn.js'), ...args], env);
  if (r.status === null || !okStatuses.includes(r.status)) throw new Error(`wmnn ${args[0]} failed (${r.status}): ${r.stderr}`);
  return r.seconds;
}

export async function benchScale(o: ScaleOptions): Promise<ScaleReport> {
  const dir = join(o.work, 'scale');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'models'), { recursive: true });
  const distinct: string[] = [];
  for (let i = 0; i < DISTINCT; i++) {
    const p = join(dir, `distinct-${i}.t7`);
    await wmnnCheckpoint(p, i + 1);
    distinct.push(p);
  }
  for (let i = 0; i < o.models; i++) linkSync(distinct[i % DISTINCT] as string, join(dir, 'models', `m${String(i).padStart(3, '0')}.t7`));
  const ckpt = distinct[0] as string;

  const nodeAlone = median(Array.from({ length: o.reps }, () => timedRun(process.execPath, ['-e', '0']).seconds));
  const addon = JSON.stringify(join(o.root, 'build', 'Release', 'wmnn.node'));
  const addonAlone = median(Array.from({ length: o.reps }, () => timedRun(process.execPath, ['-e', `require(${addon})`]).seconds));
  const predictArgs = ['predict', '--model_path', ckpt, '--testwm', '--wm_path', o.trigger, '--json'];
  const runs: { seconds: number; profile: Profile }[] = [];
  const reference: number[] = [];
  for (let i = 0; i < o.reps; i++) {
    const file = join(dir, `profile-${i}.json`);
    const seconds = wmnn(o.root, predictArgs, { ...process.env, WMNN_PROFILE: file });
    runs.push({ seconds, profile: JSON.parse(readFileSync(file, 'utf8')) as Profile });
    reference.push(o.python('scripts/predict_reference.py', [ckpt, o.trigger]).seconds);
  }
  const byTime = [...runs].sort((a, b) => a.seconds - b.seconds);
  const mid = byTime[Math.floor(byTime.length / 2)] as (typeof runs)[number];
  const wmnnMedian = mid.seconds;
  const referenceMedian = median(reference);

  // verify exits 1 when the mark is not shown, which is the case for these untrained models.
  const notShown = [0, 1];
  const verifyArgs = ['--wm_path', o.trigger, '--json'];
  const coldVerify = Array.from({ length: o.reps }, (_, i) =>
    wmnn(o.root, ['verify', '--model_path', ckpt, ...verifyArgs, '--out', join(dir, `one-${i}.json`)], process.env, notShown),
  );
  const coldVerifyMedian = median(coldVerify);
  const rss = join(dir, 'many.time');
  const manyProfile = join(dir, 'many-profile.json');
  const t0 = performance.now();
  const many = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M',
      '-o',
      rss,
      process.execPath,
      join(o.root, 'bin', 'wmnn.js'),
      'verify',
      '--models',
      join(dir, 'models'),
      ...verifyArgs,
      '--out',
      join(dir, 'many.jsonl'),
    ],
    { encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, WMNN_PROFILE: manyProfile } },
  );
  const manySeconds = (performance.now() - t0) / 1000;
  if (many.status !== 1 && many.status !== 0) throw new Error(`wmnn verify --models failed (${many.status}): ${many.stderr}`);
  const maxRssMiB = existsSync(rss) ? Number(readFileSync(rss, 'utf8').trim().split('\n').at(-1)) / 1024 : NaN;
  const perExtraModel = (manySeconds - coldVerifyMedian) / (o.models - 1);
  const forwardPerModel = phaseMs(JSON.parse(readFileSync(manyProfile, 'utf8')) as Profile, PHASES.forward) / 1000 / o.models;
  return {
    nodeAloneSeconds: nodeAlone,
    addonLoadSeconds: addonAlone - nodeAlone,
    coldPredict: {
      wmnn: runs.map((r) => r.seconds),
      reference,
      wmnnMedian,
      referenceMedian,
      ratio: wmnnMedian / referenceMedian,
      profile: mid.profile,
    },
    verifyMany: {
      models: o.models,
      coldVerify,
      coldVerifyMedian,
      manySeconds,
      perExtraModel,
      ratio: perExtraModel / coldVerifyMedian,
      maxRssMiB,
      forwardPerModel,
    },
  };
}

const secs = (x: number): string => `${x.toFixed(2)} s`;

export function printScale(r: ScaleReport, trigger: string): void {
  const c = r.coldPredict;
  console.log(`\ncold start, predict --testwm on ${trigger} (median of ${c.wmnn.length}):`);
  const share = `wmnn takes ${c.ratio.toFixed(2)} of predict.py's time (target <= 0.33)`;
  console.log(`  wmnn ${secs(c.wmnnMedian)}, predict.py ${secs(c.referenceMedian)}: ${share}`);
  const total = secs(c.profile.totalMs / 1000);
  console.log(`  profile of wmnn's median run (${total} from process start; Node alone starts in ${secs(r.nodeAloneSeconds)}):`);
  for (const p of c.profile.phases) {
    const pct = ((100 * p.ms) / c.profile.totalMs).toFixed(0).padStart(3);
    console.log(`    ${p.phase.padEnd(36)}${secs(p.ms / 1000).padStart(9)}  ${pct}%`);
  }
  // A chain no arrangement of the work shortens: Node starts, then libtorch loads (on wmnn's preload
  // thread, beside the main thread's work), then the forward pass runs on it.
  const forward = phaseMs(c.profile, PHASES.forward) / 1000;
  const chain = r.nodeAloneSeconds + r.addonLoadSeconds + forward;
  console.log(
    `  libtorch and the addon alone load in ${secs(r.addonLoadSeconds)}; Node's start, that load and the forward passes,` +
      ` which can only run one after the other, make ${secs(chain)}, ${(chain / c.referenceMedian).toFixed(2)} of predict.py's time`,
  );
  const v = r.verifyMany;
  const many = `${v.manySeconds.toFixed(1)} s, peak RSS ${v.maxRssMiB.toFixed(0)} MiB`;
  console.log(`verify --models with ${v.models} checkpoints: ${many}; one cold verify ${secs(v.coldVerifyMedian)}`);
  console.log(`  each model after the first: ${secs(v.perExtraModel)}, ${v.ratio.toFixed(2)} of a cold verify (target <= 0.20)`);
  // No model is scored without its forward pass: that much of each extra model no overlap hides.
  const fwd = v.forwardPerModel;
  console.log(`  of which its forward pass (the run's profile): ${secs(fwd)}, ${(fwd / v.coldVerifyMedian).toFixed(2)} of a cold verify`);
}
