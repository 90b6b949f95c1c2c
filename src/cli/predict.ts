// `wmnn predict`: predict.py -- score a checkpoint on the test set, or on the trigger set with
// --testwm. The last line is the original's `Loss: ... | Acc: ...%` (correct/total).
import { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { writeNpy } from '../checkpoint/npy.js';
import { readCheckpoint } from '../checkpoint/read.js';
import { firstImages, type ImageSet } from '../data/dataset.js';
import { datasetNormalization, loadSplit } from '../data/sources.js';
import { loadTriggerSet } from '../data/trigger-set.js';
import { evaluate } from '../training/loop.js';
import { classesOf, loadInto } from '../training/persist.js';
import { startProgress } from '../training/progress.js';
import { phaseSummary } from '../training/run.js';
import { type ArgsOf, DEVICE_FLAGS, flagCommand, PREDICT_EXTRA_FLAGS, PREDICT_FLAGS } from './flags.js';
import { CliError, createModel, output, requireFile } from './common.js';

export const PREDICT_TABLE = { ...PREDICT_FLAGS, ...DEVICE_FLAGS, ...PREDICT_EXTRA_FLAGS } as const;
type PredictArgs = ArgsOf<typeof PREDICT_TABLE>;

export function registerPredict(program: Command): void {
  flagCommand(program, 'predict', 'evaluate a checkpoint on the test set, or on the trigger set with --testwm (predict.py)', PREDICT_TABLE, predict);
}

async function predict(args: PredictArgs): Promise<void> {
  const out = output(args.json);
  requireFile('model_path', args.model_path);

  const ckpt = readCheckpoint(args.model_path);
  const numClasses = classesOf(ckpt);
  let set: ImageSet;
  if (args.testwm) {
    out.say('Loading watermark images');
    set = await loadTriggerSet({ path: args.wm_path, labelsFile: args.wm_lbl, numClasses, normalization: datasetNormalization(args.dataset) });
  } else {
    set = firstImages(await loadSplit({ dataset: args.dataset, root: args.db_path, split: 'test', syntheticCount: args.synthetic_test }), args.test_size);
    if (set.numClasses > numClasses) {
      throw new CliError(`${args.model_path}: a ${numClasses}-class model cannot be scored on ${args.dataset} (${set.numClasses} classes)`);
    }
  }
  out.say('==> Resuming from checkpoint..');
  const model = createModel(args, numClasses);
  loadInto(model, ckpt, { momentum: false });
  const data = model.upload(set);
  const keep = args.json || args.save_logits !== undefined;
  const r = await evaluate(model, data, args.batch_size, startProgress({ mode: out.progress }), keep);

  if (args.save_logits !== undefined && r.logits) {
    writeFileAtomic(args.save_logits, [writeNpy({ dtype: 'float32', shape: [set.count, numClasses], data: r.logits })]);
  }
  out.result({
    command: 'predict',
    model: args.model_path,
    set: args.testwm ? 'trigger' : args.dataset,
    ...phaseSummary(r),
    checkpoint: { acc: ckpt.acc?.value ?? null, epoch: ckpt.epoch },
    predictions: r.predictions ? Array.from(r.predictions) : [],
  });
}
