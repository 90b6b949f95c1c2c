// `wmnn attack`: how well the mark survives removal attempts -- the paper's four fine-tunings,
// magnitude pruning, fine-pruning, quantization, distillation, extraction, query-time input
// transforms, label smoothing and overwriting, each point with test accuracy, trigger accuracy and
// verify's p-value; a table, a JSON report and a PNG chart.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { readCheckpoint } from '../checkpoint/read.js';
import { datasetName, loadSplit } from '../data/sources.js';
import { rendezvousFromEnv } from '../distributed/env.js';
import { classesOf } from '../training/persist.js';
import { withSession } from '../training/session.js';
import { runAttacks } from '../watermark/attack.js';
import {
  ATTACKS,
  DEFAULT_ATTACKS,
  DEFAULT_BUDGET,
  DEFAULT_SWEEPS,
  needsTrainingData,
  type AttackName,
  type AttackPlan,
  type AttackSweeps,
} from '../watermark/attack-plan.js';
import { ATTACK_REPORT_VERSION, reportTable, type AttackReport } from '../watermark/attack-report.js';
import { agreementsNeeded } from '../watermark/binomial.js';
import { renderAttackChart } from '../watermark/chart.js';
import { checkTransform } from '../watermark/input-transforms.js';
import { COMMITMENTS_FILE, readCommitments } from '../watermark/key-files.js';
import { MAX_BITS, MIN_BITS } from '../watermark/quantize.js';
import { nullStatement, sha256File, WMNN_VERSION } from '../watermark/record.js';
import { chooseSeed, CliError, output, requireFile, requireWritableDir, sessionSpec, triggerSpec } from './common.js';
import { type ArgsOf, ENGINE_FLAGS, FINETUNE_FLAGS, flagCommand, type FlagTable, RUN_FLAGS } from './flags.js';

const list = (values: readonly number[]): string => values.join(',');

export const ATTACK_TABLE = {
  model_path: { type: 'str', default: './checkpoint/model.t7', added: true, help: 'the watermarked model to attack (a .t7 checkpoint)' },
  lr: { ...FINETUNE_FLAGS.lr, help: 'learning rate of every fine-tuning attack (FT*, fine-prune, label-smoothing, overwrite)' },
  train_db_path: FINETUNE_FLAGS.train_db_path,
  test_db_path: FINETUNE_FLAGS.test_db_path,
  dataset: FINETUNE_FLAGS.dataset,
  wm_path: FINETUNE_FLAGS.wm_path,
  wm_lbl: FINETUNE_FLAGS.wm_lbl,
  batch_size: FINETUNE_FLAGS.batch_size,
  epochs: {
    type: 'int',
    range: 'nonNegative',
    default: DEFAULT_BUDGET.epochs,
    added: true,
    help: 'epochs of every fine-tuning attack (0: none of them; fine-prune then only prunes)',
  },
  attacks: {
    type: 'str',
    default: DEFAULT_ATTACKS.join(','),
    added: true,
    help: `the attacks to run, comma-separated, or all (${ATTACKS.join(', ')}; empty: none)`,
  },
  attacker_share: {
    type: 'float',
    range: 'share',
    default: DEFAULT_BUDGET.attackerShare,
    added: true,
    help: 'share (0, 1] of the training split the attacker has, for every attack that trains',
  },
  prune: {
    type: 'str',
    default: list(DEFAULT_SWEEPS.prune),
    added: true,
    help: 'prune: percent of the conv and linear weights zeroed, comma-separated (empty: skip)',
  },
  fine_prune: {
    type: 'str',
    default: list(DEFAULT_SWEEPS.finePrune),
    added: true,
    help: "fine-prune: percent of the last stage's channels cut before fine-tuning",
  },
  quantize: {
    type: 'str',
    default: list(DEFAULT_SWEEPS.quantize),
    added: true,
    help: `quantize: bits per weight (${MIN_BITS}..${MAX_BITS})`,
  },
  jpeg: { type: 'str', default: list(DEFAULT_SWEEPS.jpeg), added: true, help: 'input: JPEG qualities (1..100; empty: no JPEG sweep)' },
  noise: { type: 'str', default: list(DEFAULT_SWEEPS.noise), added: true, help: 'input: Gaussian noise std in pixel levels of 0..255' },
  median: { type: 'str', default: list(DEFAULT_SWEEPS.median), added: true, help: 'input: median filter window sides (odd)' },
  student_epochs: {
    type: 'int',
    range: 'nonNegative',
    default: DEFAULT_BUDGET.studentEpochs,
    added: true,
    help: 'distill, extract: epochs of the student trained from scratch (0: skip them)',
  },
  student_lr: {
    type: 'float',
    range: 'positive',
    default: DEFAULT_BUDGET.studentLr,
    added: true,
    help: "distill, extract: the student's lr (x0.1 at half the epochs)",
  },
  temperature: {
    type: 'float',
    range: 'positive',
    default: DEFAULT_BUDGET.temperature,
    added: true,
    help: 'distill: temperature T of the soft labels',
  },
  transfer_dataset: {
    type: 'str',
    added: true,
    help: "distill, extract: another dataset's training split as the transfer set (default: the attacker's share of --dataset's)",
  },
  transfer_db_path: { type: 'str', default: './data', added: true, help: 'the root folder of --transfer_dataset' },
  label_smoothing: {
    type: 'float',
    default: DEFAULT_BUDGET.labelSmoothing,
    added: true,
    help: 'label-smoothing: epsilon of the smoothed cross-entropy',
  },
  overwrite_size: {
    type: 'int',
    range: 'positive',
    default: DEFAULT_BUDGET.overwriteSize,
    added: true,
    help: "overwrite: images in the attacker's own trigger set",
  },
  overwrite_batch: {
    type: 'int',
    range: 'positive',
    default: DEFAULT_BUDGET.overwriteBatch,
    added: true,
    help: "overwrite: attacker's trigger images appended to every batch",
  },
  commitments: {
    type: 'str',
    added: true,
    help: `commitments.json, for the classes the labels were drawn from (default: <wm_path>/${COMMITMENTS_FILE} if present, else the model's classes)`,
  },
  alpha: { type: 'float', range: 'probability', default: 1e-6, added: true, help: 'significance level of the mark, as in verify' },
  out: { type: 'str', default: './attack-report/', added: true, help: 'folder for attack-report.json and attack-report.png' },
  save_models: {
    type: 'bool',
    default: false,
    added: true,
    help: 'also save each trained model as <out>/<attack>.t7 (ftll.t7, distill.t7, fine-prune-50.t7, ...)',
  },
  ...ENGINE_FLAGS,
  ...RUN_FLAGS,
} as const satisfies FlagTable;
type AttackArgs = ArgsOf<typeof ATTACK_TABLE>;

export function registerAttack(program: Command): void {
  flagCommand(
    program,
    'attack',
    'report how the watermark survives removal attacks (fine-tuning, pruning, fine-pruning, quantization, distillation, extraction, input transforms, label smoothing, overwriting): table, JSON and PNG chart',
    ATTACK_TABLE,
    attack,
  );
}

const items = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** `--attacks`: names as `wmnn attack` takes them (any case), or `all`; empty: none. */
export function parseAttacks(text: string): AttackName[] {
  if (text.trim().toLowerCase() === 'all') return [...ATTACKS];
  const names = items(text).map((s) => ATTACKS.find((a) => a.toLowerCase() === s.toLowerCase()) ?? s);
  for (const n of names) {
    if (!(ATTACKS as readonly string[]).includes(n))
      throw new CliError(`--attacks: unknown attack '${n}' (choose from ${ATTACKS.join(', ')}, or all)`);
  }
  return [...new Set(names)] as AttackName[];
}

/** A comma-separated list of numbers, each checked by `ok` (which says what it must be). */
function parseNumbers(flag: string, text: string, ok: (x: number) => boolean, what: string): number[] {
  const values = items(text).map((s) => {
    const x = Number(s);
    if (!Number.isFinite(x) || !ok(x)) throw new CliError(`--${flag}: '${s}' is not ${what}`);
    return x;
  });
  return [...new Set(values)];
}

function parseSweeps(args: AttackArgs): AttackSweeps {
  const percent = (x: number) => x >= 0 && x < 100;
  const int = (lo: number, hi: number) => (x: number) => Number.isInteger(x) && x >= lo && x <= hi;
  const valid = (kind: 'jpeg' | 'noise' | 'median', key: 'quality' | 'std' | 'size') => (x: number) => {
    try {
      checkTransform({ kind, [key]: x, seed: 0 } as Parameters<typeof checkTransform>[0]);
      return true;
    } catch {
      return false;
    }
  };
  const ascending = (xs: number[]) => xs.sort((a, b) => a - b);
  return {
    prune: ascending(parseNumbers('prune', args.prune, percent, 'a rate in percent, 0 <= rate < 100')),
    finePrune: ascending(parseNumbers('fine_prune', args.fine_prune, (x) => x >= 0 && x <= 100, 'a share of channels in percent, 0..100')),
    quantize: parseNumbers('quantize', args.quantize, int(MIN_BITS, MAX_BITS), `a whole number of bits, ${MIN_BITS}..${MAX_BITS}`),
    jpeg: parseNumbers('jpeg', args.jpeg, valid('jpeg', 'quality'), 'a JPEG quality, an integer 1..100'),
    noise: ascending(parseNumbers('noise', args.noise, valid('noise', 'std'), 'a noise std in pixel levels, 0..255')),
    median: ascending(parseNumbers('median', args.median, valid('median', 'size'), 'an odd window side, 1..32')),
  };
}

function requireIn(flag: string, value: number, ok: boolean, what: string): void {
  if (!ok) throw new CliError(`--${flag} must be ${what}, got ${value}`);
}

/** The classes the trigger labels were drawn from: committed, else the model's. */
function labelClasses(args: AttackArgs, modelClasses: number): { classes: number; classesFrom: 'commitments' | 'model' } {
  const path = args.commitments ?? join(args.wm_path, COMMITMENTS_FILE);
  if (args.commitments === undefined && !existsSync(path)) return { classes: modelClasses, classesFrom: 'model' };
  return { classes: readCommitments(path).classes, classesFrom: 'commitments' };
}

async function attack(args: AttackArgs): Promise<void> {
  const out = output(args.json);
  datasetName(args.dataset);
  const attacks = parseAttacks(args.attacks);
  requireIn('label_smoothing', args.label_smoothing, args.label_smoothing >= 0 && args.label_smoothing < 1, 'in [0, 1)');
  const sweeps = parseSweeps(args);
  if (args.transfer_dataset !== undefined) datasetName(args.transfer_dataset);
  const students = attacks.filter((a) => a === 'distill' || a === 'extract');
  // The suspect's per-image answers and the student live on one process; a job has them on none.
  if (students.length > 0 && args.student_epochs > 0 && (rendezvousFromEnv()?.worldSize ?? 1) > 1) {
    throw new CliError(
      `--attacks ${students.join(',')}: distillation and extraction do not run data-parallel; run them without --nproc/torchrun`,
    );
  }
  requireFile('model_path', args.model_path);
  requireWritableDir('out', args.out);

  const ckpt = readCheckpoint(args.model_path);
  const numClasses = classesOf(ckpt);
  const { classes, classesFrom } = labelClasses(args, numClasses);
  const seed = chooseSeed(args.seed);
  const budget = {
    epochs: args.epochs,
    lr: args.lr,
    attackerShare: args.attacker_share,
    studentEpochs: args.student_epochs,
    studentLr: args.student_lr,
    temperature: args.temperature,
    labelSmoothing: args.label_smoothing,
    overwriteSize: args.overwrite_size,
    overwriteBatch: args.overwrite_batch,
  };
  const transfer =
    args.transfer_dataset !== undefined && attacks.some((a) => a === 'distill' || a === 'extract')
      ? {
          name: args.transfer_dataset,
          images: await loadSplit({
            dataset: args.transfer_dataset,
            root: args.transfer_db_path,
            split: 'train',
            syntheticCount: args.synthetic_train,
          }),
        }
      : undefined;
  const plan: Omit<AttackPlan, 'checkpoint'> = {
    classes,
    alpha: args.alpha,
    attacks,
    budget,
    sweeps,
    batchSize: args.batch_size,
    seed,
    ...(transfer ? { transfer } : {}),
    ...(args.save_models ? { saveModelsTo: args.out } : {}),
  };
  const spec = {
    ...sessionSpec(args, out, 'stopping without a report', needsTrainingData(plan)),
    trigger: triggerSpec(args),
    checkpoint: ckpt,
    classesFrom: 'checkpoint' as const,
    seed,
    announceModel: '==> loading model...',
  };
  const { results, triggerImages, agreedSeed, primary } = await withSession(spec, async (s) => ({
    results: await runAttacks(s, { ...plan, seed: s.seed, checkpoint: ckpt }),
    triggerImages: s.sets.trigger?.count ?? 0,
    agreedSeed: s.seed,
    primary: s.primary,
  }));
  if (!primary) return; // in a data-parallel job, rank 0 writes the report

  const report: AttackReport = {
    format: 'wmnn-attack-report',
    version: ATTACK_REPORT_VERSION,
    wmnn: WMNN_VERSION,
    time: new Date().toISOString(),
    model: { path: resolve(args.model_path), sha256: sha256File(args.model_path), classes: numClasses },
    triggerSet: { path: resolve(args.wm_path), labelsFile: args.wm_lbl, images: triggerImages },
    nullHypothesis: { classes, classesFrom, statement: nullStatement(classes) },
    alpha: args.alpha,
    agreementsNeeded: agreementsNeeded(triggerImages, classes, args.alpha),
    settings: {
      dataset: args.dataset,
      batchSize: args.batch_size,
      seed: agreedSeed,
      attacks,
      budget,
      sweeps,
      transferDataset: transfer?.name ?? null,
    },
    ...results,
  };
  const jsonPath = join(args.out, 'attack-report.json');
  const pngPath = join(args.out, 'attack-report.png');
  writeFileAtomic(jsonPath, [Buffer.from(`${JSON.stringify(report, null, 2)}\n`)]);
  writeFileAtomic(pngPath, [await renderAttackChart(report, basename(args.model_path))]);
  out.say('');
  out.say(reportTable(report));
  out.say('');
  out.say(`Report: ${jsonPath}`);
  out.say(`Chart:  ${pngPath}`);
  out.result(report);
}
