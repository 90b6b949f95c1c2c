// `wmnn verify`: the paper's Verify -- open the commitments, score the model on the trigger set,
// decide with the exact binomial p-value (or, given --calibration, with the null measured on
// unmarked models, the binomial one beside it), and leave a JSON record a third party can check.
// Exit status: 0 the mark is shown, 1 it is not, 2 an error (nothing was decided).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { datasetNormalization } from '../data/sources.js';
import { readCalibration } from '../watermark/calibration-file.js';
import { COMMITMENTS_FILE, OPENINGS_FILE } from '../watermark/key-files.js';
import type { VerifyRecord } from '../watermark/record.js';
import { describeRecord, verifyWatermark } from '../watermark/verify.js';
import { CliError, createModel, output, requireFile, requireWritableDir } from './common.js';
import { type ArgsOf, DEVICE_FLAGS, flagCommand, type FlagTable, PREDICT_EXTRA_FLAGS, PREDICT_FLAGS, RUN_FLAGS } from './flags.js';

export const VERIFY_TABLE = {
  model_path: { type: 'str', default: './checkpoint/model.t7', added: true, help: 'the suspect model (a .t7 checkpoint)' },
  wm_path: PREDICT_FLAGS.wm_path,
  wm_lbl: PREDICT_FLAGS.wm_lbl,
  commitments: { type: 'str', added: true, help: `the published commitments (default: <wm_path>/${COMMITMENTS_FILE} if present)` },
  openings: { type: 'str', added: true, help: `the secret openings (default: <wm_path>/${OPENINGS_FILE} if present)` },
  alpha: { type: 'float', range: 'probability', default: 1e-6, added: true, help: 'significance level: the mark is shown when p <= alpha (the false-positive rate)' },
  out: { type: 'str', default: './verify-record.json', added: true, help: 'where to write the JSON record' },
  calibration: { type: 'str', added: true, help: 'calibration.json from wmnn calibrate: decide with the null measured on unmarked models (the binomial one is reported beside)' },
  dataset: { ...PREDICT_EXTRA_FLAGS.dataset, help: "the model's training data, whose Normalize the trigger images get (cifar10: the original's)" },
  batch_size: PREDICT_EXTRA_FLAGS.batch_size,
  ...DEVICE_FLAGS,
  json: RUN_FLAGS.json,
} as const satisfies FlagTable;
type VerifyArgs = ArgsOf<typeof VERIFY_TABLE>;

/** Exit status of an error: distinct from 1, which means "the mark is not shown". */
const ERROR = 2;

export function registerVerify(program: Command): void {
  flagCommand(program, 'verify', 'check a model for the watermark: open the commitments, count trigger agreements, binomial p-value; exit 0 shown, 1 not shown, 2 error', VERIFY_TABLE, verify);
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

async function decide(args: VerifyArgs): Promise<VerifyRecord> {
  const out = output(args.json);
  requireFile('model_path', args.model_path);
  requireWritableDir('out', dirname(args.out));
  const keys = keyPaths(args);
  const calibration = args.calibration === undefined ? undefined : readCalibration(args.calibration);
  const record = await verifyWatermark({
    modelPath: args.model_path,
    wmPath: args.wm_path,
    labelsFile: args.wm_lbl,
    normalization: datasetNormalization(args.dataset),
    ...(keys ? { keys } : {}),
    alpha: args.alpha,
    ...(calibration ? { calibration } : {}),
    createModel: (numClasses) => createModel(args, numClasses),
    batchSize: args.batch_size,
    say: out.say,
    progress: out.progress,
  });
  writeFileAtomic(args.out, [Buffer.from(`${JSON.stringify(record, null, 2)}\n`)]);
  for (const line of describeRecord(record)) out.say(line);
  out.say(`Record: ${args.out}`);
  out.result(record);
  return record;
}

async function verify(args: VerifyArgs): Promise<void> {
  let record: VerifyRecord;
  try {
    record = await decide(args);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e), ERROR);
  }
  if (!record.shown) throw new CliError(record.decision, 1);
}
