// `wmnn train`: train.py -- train a ResNet-18, optionally with the trigger set appended to every
// batch (--wmtrain), evaluating and saving after every epoch.
import { join } from 'node:path';
import { Command } from 'commander';
import { readCheckpoint } from '../checkpoint/read.js';
import { datasetName } from '../data/sources.js';
import { loadTriggerSet } from '../data/trigger-set.js';
import { buildInfo } from '../native/engine.js';
import { RunLog } from '../training/logs.js';
import { scheduledLr } from '../training/loop.js';
import { cutState, loadInto, recordedSeed, resumePoint, saveModel } from '../training/persist.js';
import { epochsJson, evaluateLogged, phaseSummary, runEpochs } from '../training/run.js';
import { type ArgsOf, confLines, ENGINE_FLAGS, flagCommand, RUN_FLAGS, TRAIN_FLAGS } from './flags.js';
import { chooseSeed, CliError, createModel, givenOnCli, loadTrainTest, onInterrupt, output, requireFile, requireNonNegative, requirePositive, requireWritableDir } from './common.js';

export const TRAIN_TABLE = { ...TRAIN_FLAGS, ...ENGINE_FLAGS, ...RUN_FLAGS } as const;
type TrainArgs = ArgsOf<typeof TRAIN_TABLE>;


export function registerTrain(program: Command): void {
  flagCommand(program, 'train', 'train a model, with the watermark (trigger set) when --wmtrain is given (train.py)', TRAIN_TABLE, train);
}

async function train(args: TrainArgs, cmd: Command): Promise<void> {
  const out = output(args.json);
  datasetName(args.dataset);
  requirePositive('batch_size', args.batch_size);
  requirePositive('wm_batch_size', args.wm_batch_size);
  requirePositive('lradj', args.lradj);
  requireNonNegative('max_epochs', args.max_epochs);
  if (args.resume) requireFile('load_path', args.load_path);
  requireWritableDir('save_dir', args.save_dir);
  const savePath = join(args.save_dir, args.save_model);

  out.say('==> Preparing data..');
  const { train: trainSet, test: testSet } = await loadTrainTest(args);
  const numClasses = testSet.numClasses;
  let wmSet;
  if (args.wmtrain) {
    out.say('Loading watermark images');
    wmSet = await loadTriggerSet({ path: args.wm_path, labelsFile: args.wm_lbl, numClasses, normalization: testSet.normalization });
  }

  const ckpt = args.resume ? readCheckpoint(args.load_path) : undefined;
  const seed = chooseSeed(args.seed, recordedSeed(ckpt));
  out.say(ckpt ? '==> Resuming from checkpoint..' : '==> Building model..');
  const model = createModel(args, numClasses, seed);
  let firstEpoch = 0;
  let startStep = 0;
  let initialAcc = 0;
  if (ckpt) {
    loadInto(model, ckpt, { momentum: true });
    // The original restarts at the saved epoch and so trains it twice; wmnn continues after it,
    // or inside it when the checkpoint was written by Ctrl-C mid-epoch.
    ({ epoch: firstEpoch, step: startStep } = resumePoint(ckpt));
    initialAcc = ckpt.acc?.value ?? 0;
  }
  if (model.device !== 'cpu') out.say(`Using ${model.device}`);
  // Files are written only once every input has been read and checked.
  const log = new RunLog(args.log_dir, args.runname);
  log.writeConf(confLines(TRAIN_TABLE, args, givenOnCli(cmd)));

  const train = model.upload(trainSet);
  const test = model.upload(testSet);
  const wm = wmSet ? model.upload(wmSet) : undefined;
  const stop = onInterrupt(out.say);
  const plan = { log, say: out.say, progressMode: out.progress };
  const initialWm = wm ? await evaluateLogged(model, wm, args.wm_batch_size, 'WM acc:', plan) : undefined;

  const { reports, interrupted } = await runEpochs({
    ...plan,
    model,
    train,
    test,
    batchSize: args.batch_size,
    ...(wm ? { wm, wmAppend: args.wm_batch_size } : {}),
    wmEvalBatchSize: args.wm_batch_size,
    privateKey: false,
    lrAt: (epoch) => scheduledLr(args.lr, epoch, args.lradj),
    seed,
    firstEpoch,
    epochs: args.max_epochs,
    startStep,
    stop,
    initialAcc,
    save: (epoch, acc, cut) => {
      saveModel(savePath, model, { acc, epoch, state: { seed, command: 'train', ...cutState(cut) } });
      if (cut) out.say(`Saved a resumable checkpoint to ${savePath} (continue with --resume --load_path ${savePath})`);
    },
  });
  stop.dispose();

  out.result({
    command: 'train',
    checkpoint: savePath,
    seed,
    device: model.device,
    threads: model.threads,
    libtorch: buildInfo().torchVersion,
    initialWm: initialWm ? phaseSummary(initialWm) : null,
    epochs: epochsJson(reports),
    interrupted,
  });
  if (interrupted) throw new CliError('interrupted', 130);
}
