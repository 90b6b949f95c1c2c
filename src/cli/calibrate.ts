// `wmnn calibrate`: the null distribution of trigger agreement, measured on models that were never
// marked -- checkpoints the user gives (--models), or ones wmnn trains without the trigger set
// under other seeds (--train N, each a `wmnn train` run) -- and fitted, for verify --calibration.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { datasetName, datasetNormalization } from '../data/sources.js';
import { agreementsNeeded } from '../watermark/binomial.js';
import { calibratedThreshold, describeFit, fitNull, MIN_NULL_MODELS } from '../watermark/calibration.js';
import { CALIBRATION_FORMAT, type CalibrationFile, type NullModel } from '../watermark/calibration-file.js';
import { COMMITMENTS_FILE, readCommitments } from '../watermark/key-files.js';
import { WMNN_VERSION, type VerifyRecord } from '../watermark/record.js';
import { verifyWatermark } from '../watermark/verify.js';
import { runWmnn } from './child.js';
import { chooseSeed, CliError, createModel, output, requireFile, requireWritableDir } from './common.js';
import { type ArgsOf, DEVICE_FLAGS, flagCommand, type FlagTable, PREDICT_FLAGS, RUN_FLAGS, TRAIN_FLAGS } from './flags.js';

/** The checkpoint files of a folder given to --models. */
const CHECKPOINT_SUFFIX = '.t7';

export const CALIBRATE_TABLE = {
  wm_path: PREDICT_FLAGS.wm_path,
  wm_lbl: PREDICT_FLAGS.wm_lbl,
  commitments: {
    type: 'str',
    added: true,
    help: `commitments.json, for the classes the labels were drawn from (default: <wm_path>/${COMMITMENTS_FILE} if present, else the models')`,
  },
  models: {
    type: 'str',
    added: true,
    help: `unmarked models: .t7 files or folders (each ${CHECKPOINT_SUFFIX} file in one), comma-separated`,
  },
  train: {
    type: 'int',
    range: 'nonNegative',
    default: 0,
    added: true,
    help: 'also train this many unmarked models (wmnn train without the trigger set), seeds --seed, --seed + 1, ...',
  },
  models_dir: {
    type: 'str',
    default: './calibration-models/',
    added: true,
    help: 'where --train puts its models (seed-<s>/model.t7, with their logs)',
  },
  dataset: TRAIN_FLAGS.dataset,
  train_db_path: TRAIN_FLAGS.train_db_path,
  test_db_path: TRAIN_FLAGS.test_db_path,
  lr: TRAIN_FLAGS.lr,
  lradj: TRAIN_FLAGS.lradj,
  max_epochs: TRAIN_FLAGS.max_epochs,
  batch_size: TRAIN_FLAGS.batch_size,
  train_size: RUN_FLAGS.train_size,
  test_size: RUN_FLAGS.test_size,
  synthetic_train: RUN_FLAGS.synthetic_train,
  synthetic_test: RUN_FLAGS.synthetic_test,
  seed: { ...RUN_FLAGS.seed, help: "the first trained model's seed (default: random); pick seeds the marked model did not use" },
  alpha: {
    type: 'float',
    range: 'probability',
    default: 1e-6,
    added: true,
    help: 'the level of the threshold printed and recorded (verify applies its own --alpha)',
  },
  out: { type: 'str', default: './calibration.json', added: true, help: 'where to write the calibration' },
  ...DEVICE_FLAGS,
  json: RUN_FLAGS.json,
} as const satisfies FlagTable;
type CalibrateArgs = ArgsOf<typeof CALIBRATE_TABLE>;

export function registerCalibrate(program: Command): void {
  flagCommand(
    program,
    'calibrate',
    'measure trigger agreement on unmarked models (given, or trained with other seeds) and fit the null that verify --calibration decides with',
    CALIBRATE_TABLE,
    calibrate,
  );
}

/** The checkpoints --models names, each checked to be a file. */
function givenModels(list: string | undefined): string[] {
  const paths: string[] = [];
  for (const item of (list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    let isDir = false;
    try {
      isDir = statSync(item).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      requireFile('models', item);
      paths.push(item);
      continue;
    }
    const inside = readdirSync(item)
      .filter((f) => f.endsWith(CHECKPOINT_SUFFIX))
      .sort()
      .map((f) => join(item, f));
    if (inside.length === 0) throw new CliError(`--models ${item}: no ${CHECKPOINT_SUFFIX} file in that folder`);
    for (const p of inside) requireFile('models', p);
    paths.push(...inside);
  }
  return paths;
}

/** The `wmnn train` command line of the unmarked model with this seed, saved into `dir`. */
function trainArgs(args: CalibrateArgs, seed: number, dir: string): string[] {
  const flags: [string, string | number | undefined][] = [
    ['dataset', args.dataset],
    ['train_db_path', args.train_db_path],
    ['test_db_path', args.test_db_path],
    ['lr', args.lr],
    ['lradj', args.lradj],
    ['max_epochs', args.max_epochs],
    ['batch_size', args.batch_size],
    ['train_size', args.train_size],
    ['test_size', args.test_size],
    ['synthetic_train', args.synthetic_train],
    ['synthetic_test', args.synthetic_test],
    ['device', args.device],
    ['threads', args.threads],
    ['amp', args.amp],
    ['save_dir', dir],
    ['log_dir', dir],
    ['seed', seed],
  ];
  return ['train', ...flags.flatMap(([name, v]) => (v === undefined ? [] : [`--${name}`, String(v)]))];
}

async function trainModels(args: CalibrateArgs, say: (line: string) => void): Promise<{ path: string; seed: number; command: string }[]> {
  const first = chooseSeed(args.seed);
  const trained: { path: string; seed: number; command: string }[] = [];
  for (let i = 0; i < args.train; i++) {
    const seed = first + i;
    const dir = join(args.models_dir, `seed-${seed}`);
    const argv = trainArgs(args, seed, dir);
    say(`[${i + 1}/${args.train}] wmnn ${argv.join(' ')}`);
    const r = await runWmnn(argv);
    if (r.status === 130) throw new CliError(`interrupted while training unmarked model ${i + 1}; no calibration written`, 130);
    if (r.status !== 0)
      throw new CliError(`wmnn train of unmarked model ${i + 1} (seed ${seed}) exited ${r.status}; no calibration written`);
    trained.push({ path: join(dir, TRAIN_FLAGS.save_model.default), seed, command: `wmnn ${argv.join(' ')}` });
  }
  return trained;
}

/** The classes the trigger labels were drawn from: committed, else the models'. */
function labelClasses(args: CalibrateArgs, records: readonly VerifyRecord[]): { classes: number; classesFrom: 'commitments' | 'model' } {
  const path = args.commitments ?? join(args.wm_path, COMMITMENTS_FILE);
  if (args.commitments !== undefined || existsSync(path)) return { classes: readCommitments(path).classes, classesFrom: 'commitments' };
  const counts = new Set(records.map((r) => r.model.classes));
  if (counts.size > 1)
    throw new CliError(`--models: the unmarked models have different class counts (${[...counts].join(', ')}); give --commitments`);
  return { classes: records[0]!.model.classes, classesFrom: 'model' };
}

async function calibrate(args: CalibrateArgs): Promise<void> {
  const out = output(args.json);
  datasetName(args.dataset);
  const given = givenModels(args.models);
  if (given.length + args.train < MIN_NULL_MODELS) {
    throw new CliError(
      `calibrate needs at least ${MIN_NULL_MODELS} unmarked models: give --models, --train N, or both (got ${given.length + args.train})`,
    );
  }
  if (args.commitments !== undefined) readCommitments(args.commitments);
  requireWritableDir('out', dirname(args.out));
  if (args.train > 0) requireWritableDir('models_dir', args.models_dir);

  const trained = await trainModels(args, out.say);
  const models = [
    ...given.map((path) => ({ path, trained: null })),
    ...trained.map((t) => ({ path: t.path, trained: { seed: t.seed, command: t.command } })),
  ];
  const records: VerifyRecord[] = [];
  for (const m of models) {
    const r = await verifyWatermark({
      modelPath: m.path,
      wmPath: args.wm_path,
      labelsFile: args.wm_lbl,
      normalization: datasetNormalization(args.dataset),
      alpha: args.alpha,
      createModel: (numClasses) => createModel(args, numClasses),
      batchSize: args.batch_size,
      say: () => {},
      progress: 'silent',
    });
    out.say(`${m.path}: ${r.agreement.k}/${r.agreement.n} trigger labels`);
    records.push(r);
  }
  const { classes, classesFrom } = labelClasses(args, records);
  const digests = new Set(records.map((r) => r.triggerSet.sha256));
  if (digests.size > 1) throw new CliError(`--wm_path ${args.wm_path} changed while calibrate read it; no calibration written`);
  const fit = fitNull(
    records.map((r) => r.agreement),
    classes,
  );
  const binomialThreshold = agreementsNeeded(fit.n, classes, args.alpha);
  for (const [i, r] of records.entries()) {
    if (r.agreement.k >= binomialThreshold)
      out.say(
        `warning: ${models[i]!.path} agrees on ${r.agreement.k}/${r.agreement.n}, enough for the binomial test: is it really unmarked?`,
      );
  }
  const nullModels: NullModel[] = records.map((r, i) => ({
    path: resolve(models[i]!.path),
    sha256: r.model.sha256,
    agreement: r.agreement,
    trained: models[i]!.trained,
  }));
  const threshold = calibratedThreshold(fit, args.alpha);
  const file: CalibrationFile = {
    format: CALIBRATION_FORMAT,
    version: 1,
    wmnn: WMNN_VERSION,
    time: new Date().toISOString(),
    triggerSet: records[0]!.triggerSet,
    classes,
    classesFrom,
    models: nullModels,
    fit: { ...fit, description: describeFit(fit) },
    alpha: args.alpha,
    threshold,
    binomialThreshold,
  };
  writeFileAtomic(args.out, [Buffer.from(`${JSON.stringify(file, null, 2)}\n`)]);
  const n = fit.n;
  out.say(
    `Null: ${describeFit(fit)} from ${fit.models} unmarked models (measured mean ${fit.measuredMean.toPrecision(3)}, chance 1/${classes}; the most any agreed: ${fit.maxAgreement}/${n})`,
  );
  const need = (t: number): string => (t <= n ? `at least ${t} of ${n}` : `more than ${n} (never)`);
  out.say(`At alpha = ${args.alpha}: the calibrated decision needs ${need(threshold)}; the binomial one ${need(binomialThreshold)}`);
  out.say(`Calibration: ${args.out} (use it with wmnn verify --calibration ${args.out})`);
  out.result(file);
}
