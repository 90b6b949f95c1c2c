// `wmnn reproduce`: the paper's experiment in one command, on any dataset wmnn reads. It runs the
// protocol's steps (src/reproduce/protocol.ts) as wmnn commands, each a child process with
// --json, then writes report.json, report.md and report.html. Sizes default to what the device
// can do: on a CPU a subset that ends in about 10 minutes on 2 cores in float32, on CUDA the full
// dataset.
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { hardware, resolveDevice } from '../native/engine.js';
import { choosePrecision } from '../training/precision.js';
import { ATTACK_MODES } from '../training/fine-tune.js';
import type { AttackReport } from '../watermark/attack-report.js';
import { agreementsNeeded } from '../watermark/binomial.js';
import type { VerifyRecord } from '../watermark/record.js';
import { WMNN_VERSION } from '../watermark/record.js';
import {
  attackFolder,
  layout,
  MARKED,
  MODELS,
  modelFile,
  protocolSteps,
  shellLine,
  type ModelName,
  type ProtocolSettings,
  type Step,
} from '../reproduce/protocol.js';
import { renderHtml, renderMarkdown, type CommandRun, type ReproduceReport } from '../reproduce/report.js';
import { attackResults, furtherAttackResults, modelResult, type TrainJson } from '../reproduce/results.js';
import { parseAttacks } from './attack.js';
import { runWmnn } from './child.js';
import { CliError, output, requireWritableDir, type Output } from './common.js';
import { type ArgsOf, ENGINE_FLAGS, flagCommand, type FlagTable, RUN_FLAGS, TRAIN_FLAGS } from './flags.js';

export const REPRODUCE_TABLE = {
  dataset: { ...TRAIN_FLAGS.dataset, default: 'fashion-mnist', added: true },
  train_db_path: { type: 'str', added: true, help: "the training data's folder (default: the dataset's own, e.g. Debian's Fashion-MNIST)" },
  test_db_path: { type: 'str', added: true, help: "the test data's folder (default: the dataset's own)" },
  wm_path: { ...TRAIN_FLAGS.wm_path, added: true },
  wm_lbl: { ...TRAIN_FLAGS.wm_lbl, added: true },
  train_size: {
    type: 'int',
    range: 'nonNegative',
    added: true,
    help: 'first N training images (default by device: a CPU subset, all on CUDA; 0: all)',
  },
  test_size: { type: 'int', range: 'nonNegative', added: true, help: 'first N test images (default by device; 0: all)' },
  epochs: { type: 'int', range: 'positive', added: true, help: 'epochs of the baseline and of FromScratch (default by device)' },
  pretrained_epochs: {
    type: 'int',
    range: 'nonNegative',
    added: true,
    help: 'epochs with the trigger set that turn the baseline into PreTrained (default by device)',
  },
  attacks: {
    type: 'str',
    default: ATTACK_MODES.join(','),
    added: true,
    help: "the attacks on each marked model, comma-separated, or all (wmnn attack's names; default: the paper's four; empty: no attack step)",
  },
  attack_epochs: {
    type: 'int',
    range: 'nonNegative',
    added: true,
    help: 'fine-tuning epochs of each attack: FT*, fine-prune, label-smoothing, overwrite (default by device)',
  },
  student_epochs: {
    type: 'int',
    range: 'nonNegative',
    added: true,
    help: "distill, extract: epochs of the attacker's student, trained at --lr (default: --epochs, what the owner's baseline got)",
  },
  lr: { type: 'float', range: 'positive', added: true, help: 'learning rate of training (default by device)' },
  lradj: { type: 'int', range: 'positive', added: true, help: 'multiply the lr by 0.1 every n epochs (default by device)' },
  attack_lr: { type: 'float', range: 'positive', default: 0.001, added: true, help: "the attacks' learning rate (fine-tune.py's default)" },
  attacker_share: {
    type: 'float',
    range: 'share',
    added: true,
    help: 'share (0, 1] of the training subset the attacker fine-tunes on (default by device)',
  },
  batch_size: { type: 'int', range: 'positive', added: true, help: 'the batch size (default by device)' },
  wm_batch_size: { type: 'int', range: 'positive', added: true, help: 'trigger images appended to every batch (default by device)' },
  alpha: { type: 'float', range: 'probability', default: 1e-6, added: true, help: 'significance level of the mark, as in verify' },
  out: { type: 'str', default: './reproduce/', added: true, help: 'folder for the models, logs, records and report.{html,md,json}' },
  ...ENGINE_FLAGS,
  amp: { ...ENGINE_FLAGS.amp, default: 'auto' },
  seed: { ...RUN_FLAGS.seed, default: 0, help: 'seed of every step (the experiment is deterministic on one machine)' },
  json: RUN_FLAGS.json,
  synthetic_train: RUN_FLAGS.synthetic_train,
  synthetic_test: RUN_FLAGS.synthetic_test,
} as const satisfies FlagTable;
type ReproduceArgs = ArgsOf<typeof REPRODUCE_TABLE>;

/** The sizes a device gets when the flags leave them out. */
interface DevicePlan {
  trainSize: number;
  testSize: number;
  epochs: number;
  pretrainedEpochs: number;
  attackEpochs: number;
  attackerShare: number;
  lr: number;
  lradj: number;
  batchSize: number;
  triggerBatchSize: number;
  why: string;
}

/**
 * On a CPU: a subset sized so that the whole protocol ends within 10 minutes on 2 cores of an
 * AVX2-only CPU in float32 (about 14,000 image-passes at its 25 training images/s; see
 * docs/reproduce.md). Many small batches with many trigger images each, so that the 100 trigger
 * images are seen often enough to be learnt; PreTrained gets as many epochs as FromScratch
 * (2 left it at 19% on the trigger set), paid for by attackers that have half the subset.
 */
export const CPU_PLAN: DevicePlan = {
  trainSize: 600,
  testSize: 300,
  epochs: 4,
  pretrainedEpochs: 4,
  attackEpochs: 1,
  attackerShare: 0.5,
  lr: 0.01,
  lradj: 3,
  batchSize: 50,
  triggerBatchSize: 20,
  why: 'a CPU: a subset that ends within about 10 minutes on 2 cores in float32',
};

/** On CUDA: the whole dataset, the original's batch sizes, a shortened schedule of the paper's. */
export const CUDA_PLAN: DevicePlan = {
  trainSize: 0,
  testSize: 0,
  epochs: 30,
  pretrainedEpochs: 10,
  attackEpochs: 10,
  attackerShare: 1, // fine-tune.py tunes on the whole training split
  lr: 0.1,
  lradj: 10,
  batchSize: 100,
  triggerBatchSize: 2,
  why: 'CUDA: the full dataset',
};

export function registerReproduce(program: Command): void {
  flagCommand(
    program,
    'reproduce',
    "the paper's experiment in one command: baseline, FromScratch and PreTrained models, the four fine-tuning attacks (any of attack's with --attacks), a report (html, md, json)",
    REPRODUCE_TABLE,
    reproduce,
  );
}

function settingsFrom(args: ReproduceArgs, plan: DevicePlan): ProtocolSettings {
  const engine = ['--device', args.device, '--threads', String(args.threads), '--amp', args.amp];
  return {
    dataset: args.dataset,
    ...(args.train_db_path !== undefined ? { trainRoot: args.train_db_path } : {}),
    ...(args.test_db_path !== undefined ? { testRoot: args.test_db_path } : {}),
    trainSize: args.train_size ?? plan.trainSize,
    testSize: args.test_size ?? plan.testSize,
    syntheticTrain: args.synthetic_train,
    syntheticTest: args.synthetic_test,
    triggerPath: args.wm_path,
    triggerLabels: args.wm_lbl,
    epochs: args.epochs ?? plan.epochs,
    pretrainedEpochs: args.pretrained_epochs ?? plan.pretrainedEpochs,
    attacks: parseAttacks(args.attacks),
    attackEpochs: args.attack_epochs ?? plan.attackEpochs,
    // The student is trained from scratch, as the owner trained: the same epochs by default.
    studentEpochs: args.student_epochs ?? args.epochs ?? plan.epochs,
    lr: args.lr ?? plan.lr,
    lradj: args.lradj ?? plan.lradj,
    attackLr: args.attack_lr,
    attackerShare: args.attacker_share ?? plan.attackerShare,
    batchSize: args.batch_size ?? plan.batchSize,
    triggerBatchSize: args.wm_batch_size ?? plan.triggerBatchSize,
    alpha: args.alpha,
    seed: args.seed,
    engine,
    parallel: ['--nproc', args.nproc, '--timeout', String(args.timeout)],
    out: args.out,
  };
}

function machine(args: ReproduceArgs): { device: string; cpu: string; precision: string } {
  const device = resolveDevice(args.device);
  const hw = hardware(device);
  return { device, cpu: hw.cpu.model || 'unknown CPU', precision: choosePrecision(args.amp, device, hw).why };
}

async function runProtocol(s: ProtocolSettings, out: Output): Promise<{ results: Map<Step, unknown>; commands: CommandRun[] }> {
  const steps = protocolSteps(s);
  const results = new Map<Step, unknown>();
  const commands: CommandRun[] = [];
  for (const [i, step] of steps.entries()) {
    const line = shellLine(step.args);
    out.say(`\n[${i + 1}/${steps.length}] ${step.title}\n$ ${line}`);
    const r = await runWmnn(step.args);
    commands.push({ title: step.title, line, seconds: r.seconds, status: r.status });
    if (r.status === 130) throw new CliError(`interrupted during step ${i + 1} (${step.args[0]}); the files so far are in ${s.out}`, 130);
    if (!step.accept.includes(r.status) || r.json === null) {
      throw new CliError(`step ${i + 1} failed (wmnn ${step.args[0]} exited ${r.status}): ${line}`);
    }
    results.set(step, r.json);
    out.say(`    done in ${r.seconds.toFixed(0)} s`);
  }
  return { results, commands };
}

async function reproduce(args: ReproduceArgs): Promise<void> {
  const out = output(args.json);
  const t0 = performance.now();
  const where = machine(args);
  const plan = where.device.startsWith('cuda') ? CUDA_PLAN : CPU_PLAN;
  const s = settingsFrom(args, plan);
  const given = (
    [
      'train_size',
      'test_size',
      'epochs',
      'pretrained_epochs',
      'attack_epochs',
      'attacker_share',
      'student_epochs',
      'lr',
      'lradj',
      'batch_size',
      'wm_batch_size',
    ] as const
  ).filter((k) => args[k] !== undefined);
  const epochs = (n: number): string => `${n} epoch${n === 1 ? '' : 's'}`;
  const students = s.attacks.some((a) => a === 'distill' || a === 'extract') ? `, students ${epochs(s.studentEpochs)}` : '';
  const sizing =
    `${plan.why}${given.length > 0 ? `; given: ${given.map((k) => `--${k}`).join(', ')}` : ''} ` +
    `(train ${s.trainSize || 'all'} / test ${s.testSize || 'all'} images, ${epochs(s.epochs)}, PreTrained +${s.pretrainedEpochs}, attacks ${epochs(s.attackEpochs)}${students})`;
  for (const dir of Object.values(layout(s))) requireWritableDir('out', dir);
  out.say(`wmnn reproduce on ${s.dataset}: ${where.cpu}, ${where.device}, ${where.precision}`);
  out.say(`Sizes: ${sizing}`);

  const { results, commands } = await runProtocol(s, out);
  const steps = [...results.keys()];
  const of = <T>(kind: Step['kind'], model: ModelName): T[] =>
    steps.filter((st) => st.kind === kind && st.model === model).map((st) => results.get(st) as T);
  const record = (m: ModelName): VerifyRecord => of<VerifyRecord>('verify', m)[0] as VerifyRecord;
  const baselineRuns = of<TrainJson>('train', 'baseline');
  const baselineTest = baselineRuns.at(-1)?.epochs.at(-1)?.test?.accuracy ?? 0;
  const models = MODELS.map((m) =>
    modelResult(
      modelFile(s, m),
      m,
      m === 'preTrained' ? [...baselineRuns, ...of<TrainJson>('train', m)] : of<TrainJson>('train', m),
      record(m),
      baselineTest,
    ),
  );
  const attackRows = <T>(rows: (folder: string, m: ModelName, r: AttackReport) => T[]): T[] =>
    MARKED.flatMap((m) => of<AttackReport>('attack', m).flatMap((r) => rows(attackFolder(s, m), m, r)));
  const attacks = attackRows(attackResults);
  const furtherAttacks = attackRows(furtherAttackResults);
  const triggerCount = record('baseline').agreement.n;
  const classes = record('baseline').nullHypothesis.classes;

  const report: ReproduceReport = {
    format: 'wmnn-reproduce-report',
    version: 1,
    wmnn: WMNN_VERSION,
    time: new Date().toISOString(),
    machine: where,
    sizing,
    settings: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Array.isArray(v) ? v.join(' ') : v])),
    alpha: s.alpha,
    agreementsNeeded: agreementsNeeded(triggerCount, classes, s.alpha),
    models,
    attacks,
    furtherAttacks,
    commands,
    seconds: (performance.now() - t0) / 1000,
  };
  const files = { json: join(s.out, 'report.json'), md: join(s.out, 'report.md'), html: join(s.out, 'report.html') };
  writeFileAtomic(files.json, [Buffer.from(`${JSON.stringify(report, null, 2)}\n`)]);
  const md = renderMarkdown(report);
  writeFileAtomic(files.md, [Buffer.from(md)]);
  writeFileAtomic(files.html, [Buffer.from(renderHtml(report))]);
  out.say(`\n${md.slice(md.indexOf('## Models'), md.indexOf('## Commands')).trimEnd()}`);
  out.say(`\nReport: ${resolve(files.html)} (also report.md, report.json)`);
  out.result(report);
}
