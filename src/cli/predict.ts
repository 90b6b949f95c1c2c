// `wmnn predict`: predict.py -- score a checkpoint on the test set, or on the trigger set with
// --testwm. The last line is the original's `Loss: ... | Acc: ...%` (correct/total). With several
// models (--model_path given more than once, --models DIR) the set is read once and every model
// gets a row of a table; exit status 2 if any model could not be read.
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { findModelFiles, MODEL_SUFFIXES } from '../checkpoint/model-files.js';
import { writeNpy } from '../checkpoint/npy.js';
import { readCheckpoint } from '../checkpoint/read.js';
import { firstImages, type ImageSet } from '../data/dataset.js';
import { datasetNormalization, loadSplit } from '../data/sources.js';
import { loadTriggerSet } from '../data/trigger-set.js';
import type { Model } from '../native/engine.js';
import { PHASES, timed, timedAsync } from '../profile.js';
import { checkLabelsFit, scoreMany } from '../training/many-models.js';
import { evaluate, type EvalResult } from '../training/loop.js';
import { classesOf, loadInto } from '../training/persist.js';
import { startProgress } from '../training/progress.js';
import { phaseSummary } from '../training/run.js';
import { type ArgsOf, DEVICE_FLAGS, flagCommand, PREDICT_EXTRA_FLAGS, PREDICT_FLAGS } from './flags.js';
import { CliError, createModel, givenOnCli, output, requireFile, requireWritableDir, type Output } from './common.js';
import { StreamTable } from './table.js';

export const PREDICT_TABLE = {
  ...PREDICT_FLAGS,
  model_path: { ...PREDICT_FLAGS.model_path, repeatable: true, help: 'the model path (give it several times to score several)' },
  models: { type: 'str', added: true, help: 'score every .t7/.pt/.pth/.safetensors file under this folder (recursively), in one run' },
  ...DEVICE_FLAGS,
  ...PREDICT_EXTRA_FLAGS,
} as const;
type PredictArgs = ArgsOf<typeof PREDICT_TABLE>;

export function registerPredict(program: Command): void {
  flagCommand(
    program,
    'predict',
    'evaluate a checkpoint on the test set, or on the trigger set with --testwm (predict.py)',
    PREDICT_TABLE,
    predict,
  );
}

/** Labels are checked per model (checkLabelsFit) when a set is read for many. */
const ANY_CLASS_COUNT = 2 ** 31 - 1;

/** The images the flags name: the trigger set (--testwm) or the test split; labels checked against `numClasses` when given. */
async function scoredSet(args: PredictArgs, out: Output, numClasses?: number): Promise<ImageSet> {
  if (args.testwm) {
    out.say('Loading watermark images');
    const triggerClasses = numClasses ?? ANY_CLASS_COUNT;
    return timedAsync(PHASES.triggerDecode, () =>
      loadTriggerSet({
        path: args.wm_path,
        labelsFile: args.wm_lbl,
        numClasses: triggerClasses,
        normalization: datasetNormalization(args.dataset),
      }),
    );
  }
  const set = firstImages(
    await loadSplit({ dataset: args.dataset, root: args.db_path, split: 'test', syntheticCount: args.synthetic_test }),
    args.test_size,
  );
  if (numClasses !== undefined) checkSetFits(args, set, numClasses);
  return set;
}

function checkSetFits(args: PredictArgs, set: ImageSet, numClasses: number): void {
  if (set.numClasses > numClasses) {
    throw new CliError(`a ${numClasses}-class model cannot be scored on ${args.dataset} (${set.numClasses} classes)`);
  }
}

async function predict(args: PredictArgs, cmd: Command): Promise<void> {
  const given = givenOnCli(cmd)('model_path');
  const paths = given || args.models === undefined ? [...args.model_path] : [];
  if (args.models !== undefined) {
    const found = findModelFiles(args.models);
    if (found.length === 0) throw new CliError(`--models ${args.models}: no ${MODEL_SUFFIXES.join('/')} files under it`);
    paths.push(...found);
  }
  if (paths.length > 1 || args.models !== undefined) {
    if (args.save_logits !== undefined) throw new CliError('--save_logits takes one model; give one --model_path');
    await predictMany(args, paths);
    return;
  }
  await predictOne(args, paths[0] as string);
}

async function predictOne(args: PredictArgs, modelPath: string): Promise<void> {
  const out = output(args.json);
  requireFile('model_path', modelPath);
  if (args.save_logits !== undefined) requireWritableDir('save_logits', dirname(args.save_logits));

  const ckpt = timed(PHASES.checkpointRead, () => readCheckpoint(modelPath, { momentum: false }));
  const numClasses = classesOf(ckpt);
  let set: ImageSet;
  try {
    set = await scoredSet(args, out, numClasses);
  } catch (e) {
    if (e instanceof CliError) throw new CliError(`${modelPath}: ${e.message}`);
    throw e;
  }
  out.say('==> Resuming from checkpoint..');
  const model = timed(PHASES.modelBuild, () => {
    const m = createModel(args, numClasses, { loaded: true });
    loadInto(m, ckpt, { momentum: false });
    return m;
  });
  const data = model.upload(set);
  const keep = args.json || args.save_logits !== undefined;
  const r = await timedAsync(PHASES.forward, () => evaluate(model, data, args.batch_size, startProgress({ mode: out.progress }), keep));

  if (args.save_logits !== undefined && r.logits) {
    writeFileAtomic(args.save_logits, [writeNpy({ dtype: 'float32', shape: [set.count, numClasses], data: r.logits })]);
  }
  out.result({
    command: 'predict',
    model: modelPath,
    set: args.testwm ? 'trigger' : args.dataset,
    ...phaseSummary(r),
    checkpoint: { acc: ckpt.acc?.value ?? null, epoch: ckpt.epoch },
    predictions: r.predictions ? Array.from(r.predictions) : [],
  });
}

type ManyResult = { model: string; classes: number | null; seconds: number } & (
  | ({ ok: true; checkpoint: { acc: number | null; epoch: number | null }; predictions?: number[] } & ReturnType<typeof phaseSummary>)
  | { ok: false; error: string }
);

/** Several models on one set: a row each as it is scored, then the totals; exit status 2 if any could not be read. */
async function predictMany(args: PredictArgs, paths: string[]): Promise<void> {
  const out = output(args.json);
  const t0 = performance.now();
  const set = await scoredSet(args, out);
  const table = new StreamTable([
    { title: 'model', width: StreamTable.pathWidth(paths, 'model'), align: 'left' },
    { title: 'classes', width: 7, align: 'right' },
    { title: 'correct', width: 11, align: 'right' },
    { title: 'acc %', width: 7, align: 'right' },
    { title: 'loss', width: 7, align: 'right' },
    { title: 'seconds', width: 7, align: 'right' },
  ]);
  out.say(`Scoring ${paths.length} models on ${set.count} images (${args.testwm ? args.wm_path : args.dataset})`);
  out.say(table.header());
  const results: ManyResult[] = [];
  await scoreMany<ReturnType<Model['upload']>, { r: EvalResult; acc: number | null; epoch: number | null }>(paths, {
    read: { momentum: false },
    createModel: (numClasses) => createModel(args, numClasses, { loaded: true }),
    prepare: (model) => model.upload(set),
    accept: (_checkpoint, classes) => (args.testwm ? checkLabelsFit(set, classes, args.wm_lbl) : checkSetFits(args, set, classes)),
    score: async (model, data, _path, checkpoint) => ({
      r: await timedAsync(PHASES.forward, () => evaluate(model, data, args.batch_size, startProgress({ mode: 'silent' }), args.json)),
      acc: checkpoint.acc?.value ?? null,
      epoch: checkpoint.epoch,
    }),
    onOutcome: (o, index) => {
      if (o.ok) {
        const s = phaseSummary(o.result.r);
        results[index] = {
          model: o.path,
          classes: o.classes,
          seconds: o.seconds,
          ok: true,
          ...s,
          checkpoint: { acc: o.result.acc, epoch: o.result.epoch },
          ...(o.result.r.predictions ? { predictions: Array.from(o.result.r.predictions) } : {}),
        };
        out.say(
          table.row([o.path, String(o.classes), `${s.correct}/${s.total}`, s.accuracy.toFixed(2), s.loss.toFixed(4), o.seconds.toFixed(2)]),
        );
      } else {
        results[index] = { model: o.path, classes: o.classes, seconds: o.seconds, ok: false, error: o.error };
        out.say(table.row([o.path, o.classes === null ? '-' : String(o.classes), '-', '-', '-', o.seconds.toFixed(2)]));
        out.say(`  ${o.error}`);
      }
    },
  });
  const errors = results.filter((r) => !r.ok).length;
  const seconds = (performance.now() - t0) / 1000;
  out.say(`${paths.length} models scored${errors > 0 ? `, ${errors} could not be read` : ''} (${seconds.toFixed(1)} s)`);
  out.result({
    command: 'predict',
    set: args.testwm ? 'trigger' : args.dataset,
    results,
    summary: { models: paths.length, errors, seconds },
  });
  if (errors > 0) throw new CliError(`${errors} of ${paths.length} models could not be read`);
}
