// `wmnn verify`: the paper's Verify -- open the commitments, score the model on the trigger set,
// decide with the exact binomial p-value (or, given --calibration, with the null measured on
// unmarked models, the binomial one beside it), and leave a JSON record a third party can check.
// Exit status: 0 the mark is shown, 1 it is not, 2 an error (nothing was decided). Over several
// models (--model_path given more than once, --models DIR): 0 only if every model was read and
// shows the mark, 1 if any was read but does not, 2 if any could not be read.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { datasetNormalization } from '../data/sources.js';
import { readCalibration } from '../watermark/calibration-file.js';
import { COMMITMENTS_FILE, OPENINGS_FILE } from '../watermark/key-files.js';
import type { VerifyRecord } from '../watermark/record.js';
import { describeRecord, verifyWatermark, type VerifyOptions } from '../watermark/verify.js';
import { findModelFiles, MODEL_SUFFIXES } from '../checkpoint/model-files.js';
import { verifyMany, type ModelRecord, type VerifyRow } from '../watermark/verify-many.js';
import { CliError, createModel, givenOnCli, output, requireFile, requireWritableDir, type Output } from './common.js';
import { StreamTable } from './table.js';
import { type ArgsOf, DEVICE_FLAGS, flagCommand, type FlagTable, PREDICT_EXTRA_FLAGS, PREDICT_FLAGS, RUN_FLAGS } from './flags.js';

/** The records of several models, one per line, unless --out says otherwise. */
const MANY_OUT = './verify-records.jsonl';

export const VERIFY_TABLE = {
  model_path: {
    type: 'str',
    default: './checkpoint/model.t7',
    added: true,
    repeatable: true,
    help: 'the suspect model (a .t7 checkpoint); give it several times to check several',
  },
  models: { type: 'str', added: true, help: 'check every .t7/.pt/.pth/.safetensors file under this folder (recursively), in one run' },
  wm_path: PREDICT_FLAGS.wm_path,
  wm_lbl: PREDICT_FLAGS.wm_lbl,
  commitments: { type: 'str', added: true, help: `the published commitments (default: <wm_path>/${COMMITMENTS_FILE} if present)` },
  openings: { type: 'str', added: true, help: `the secret openings (default: <wm_path>/${OPENINGS_FILE} if present)` },
  alpha: {
    type: 'float',
    range: 'probability',
    default: 1e-6,
    added: true,
    help: 'significance level: the mark is shown when p <= alpha (the false-positive rate)',
  },
  out: {
    type: 'str',
    default: './verify-record.json',
    added: true,
    help: `where to write the JSON record (several models: one record per line, default ${MANY_OUT})`,
  },
  calibration: {
    type: 'str',
    added: true,
    help: 'calibration.json from wmnn calibrate: decide with the null measured on unmarked models (the binomial one is reported beside)',
  },
  dataset: {
    ...PREDICT_EXTRA_FLAGS.dataset,
    help: "the model's training data, whose Normalize the trigger images get (cifar10: the original's)",
  },
  batch_size: PREDICT_EXTRA_FLAGS.batch_size,
  ...DEVICE_FLAGS,
  json: RUN_FLAGS.json,
} as const satisfies FlagTable;
type VerifyArgs = ArgsOf<typeof VERIFY_TABLE>;

/** Exit status of an error: distinct from 1, which means "the mark is not shown". */
const EXIT_ERROR = 2;

export function registerVerify(program: Command): void {
  flagCommand(
    program,
    'verify',
    'check a model for the watermark: open the commitments, count trigger agreements, binomial p-value; exit 0 shown, 1 not shown, 2 error',
    VERIFY_TABLE,
    verify,
  );
}

/** The commitments and openings to check: the flags, else the files beside the trigger set. */
function keyPaths(args: VerifyArgs): { commitments: string; openings: string } | undefined {
  if ((args.commitments === undefined) !== (args.openings === undefined)) {
    throw new Error('--commitments and --openings go together (give both, or neither to use those in --wm_path)');
  }
  // Unreadable files are reported by the readers, naming the file.
  if (args.commitments !== undefined && args.openings !== undefined) return { commitments: args.commitments, openings: args.openings };
  const commitments = join(args.wm_path, COMMITMENTS_FILE);
  const openings = join(args.wm_path, OPENINGS_FILE);
  if (!existsSync(commitments)) return undefined;
  if (!existsSync(openings)) throw new Error(`${commitments} is there but ${openings} is not: give --commitments and --openings`);
  return { commitments, openings };
}

/** What verify decides with, one model or many: the evidence, the null and the engine flags. */
function decisionInputs(args: VerifyArgs, out: Output): Omit<VerifyOptions, 'modelPath' | 'progress'> {
  const keys = keyPaths(args);
  const calibration = args.calibration === undefined ? undefined : readCalibration(args.calibration);
  return {
    wmPath: args.wm_path,
    labelsFile: args.wm_lbl,
    normalization: datasetNormalization(args.dataset),
    ...(keys ? { keys } : {}),
    alpha: args.alpha,
    ...(calibration ? { calibration } : {}),
    createModel: (numClasses) => createModel(args, numClasses, { loaded: true }),
    batchSize: args.batch_size,
    say: out.say,
  };
}

async function decide(args: VerifyArgs, modelPath: string): Promise<VerifyRecord> {
  const out = output(args.json);
  requireFile('model_path', modelPath);
  requireWritableDir('out', dirname(args.out));
  const record = await verifyWatermark({ ...decisionInputs(args, out), modelPath, progress: out.progress });
  writeFileAtomic(args.out, [Buffer.from(`${JSON.stringify(record, null, 2)}\n`)]);
  for (const line of describeRecord(record)) out.say(line);
  out.say(`Record: ${args.out}`);
  out.result(record);
  return record;
}

/** Several models: a table row for each as it is decided, then the totals; throws the exit status unless all show the mark. */
async function decideMany(args: VerifyArgs, modelPaths: string[], outPath: string): Promise<void> {
  const out = output(args.json);
  requireWritableDir('out', dirname(outPath));
  const table = new StreamTable([
    { title: 'model', width: StreamTable.pathWidth(modelPaths, 'model'), align: 'left' },
    { title: 'classes', width: 7, align: 'right' },
    { title: 'agreements', width: 10, align: 'right' },
    { title: 'p-value', width: 9, align: 'right' },
    { title: 'decision', width: 9, align: 'left' },
    { title: 'seconds', width: 7, align: 'right' },
  ]);
  const records: ModelRecord[] = [];
  const rows: VerifyRow[] = [];
  let headed = false;
  const summary = await verifyMany({
    ...decisionInputs(args, out),
    modelPaths,
    onModel: (record, row, index) => {
      records[index] = record;
      rows[index] = row;
      if (!headed) out.say(table.header());
      headed = true;
      const classes = row.classes === null ? '-' : String(row.classes);
      out.say(table.row([row.model, classes, row.agreements ?? '-', row.pValue ?? '-', row.decision, row.seconds.toFixed(2)]));
      if (row.error !== undefined) out.say(`  ${row.error}`);
    },
  });
  writeFileAtomic(outPath, [Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(''))]);
  const unread = summary.errors > 0 ? `, ${summary.errors} could not be read` : '';
  const totals = `${summary.models} models: ${summary.shown} show the mark, ${summary.notShown} do not${unread}`;
  out.say(`${totals} (${summary.seconds.toFixed(1)} s)`);
  out.say(`Records: ${outPath}`);
  out.result({ command: 'verify', records, rows, summary });
  if (summary.errors > 0) throw new CliError(`${summary.errors} of ${summary.models} models could not be read`, EXIT_ERROR);
  if (summary.notShown > 0) throw new CliError(`the mark is not shown in ${summary.notShown} of ${summary.models} models`, 1);
}

/** The models the flags name: every --model_path (the default only without --models), then the files under --models. */
function modelPathsOf(args: VerifyArgs, cmd: Command): { paths: string[]; many: boolean } {
  const given = givenOnCli(cmd)('model_path');
  const paths = given || args.models === undefined ? [...args.model_path] : [];
  if (args.models !== undefined) {
    const found = findModelFiles(args.models);
    if (found.length === 0) throw new Error(`--models ${args.models}: no ${MODEL_SUFFIXES.join('/')} files under it`);
    paths.push(...found);
  }
  return { paths, many: paths.length > 1 || args.models !== undefined };
}

async function verify(args: VerifyArgs, cmd: Command): Promise<void> {
  try {
    const { paths, many } = modelPathsOf(args, cmd);
    if (many) {
      await decideMany(args, paths, givenOnCli(cmd)('out') ? args.out : MANY_OUT);
      return;
    }
    const record = await decide(args, paths[0] as string);
    if (!record.shown) throw new CliError(record.decision, 1);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(e instanceof Error ? e.message : String(e), EXIT_ERROR);
  }
}
