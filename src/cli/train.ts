// `wmnn train`: train.py -- train a ResNet-18, optionally with the trigger set appended to every
// batch (--wmtrain), evaluating and saving after every epoch.
import { join } from 'node:path';
import { Command } from 'commander';
import { readCheckpoint } from '../checkpoint/read.js';
import { datasetName } from '../data/sources.js';
import { buildInfo } from '../native/engine.js';
import { scheduledLr } from '../training/loop.js';
import { cutState, recordedSeed, resumePoint } from '../training/persist.js';
import { epochsJson, evaluateLogged, phaseSummary, runEpochs } from '../training/run.js';
import { RunInterrupted } from '../training/interrupted.js';
import { trainingData, withSession } from '../training/session.js';
import { type ArgsOf, confLines, ENGINE_FLAGS, flagCommand, RUN_FLAGS, TRAIN_FLAGS } from './flags.js';
import { chooseSeed, givenOnCli, output, requireFile, requireWritableDir, sessionSpec, triggerSpec } from './common.js';

export const TRAIN_TABLE = { ...TRAIN_FLAGS, ...ENGINE_FLAGS, ...RUN_FLAGS } as const;
type TrainArgs = ArgsOf<typeof TRAIN_TABLE>;

export function registerTrain(program: Command): void {
  flagCommand(program, 'train', 'train a model, with the watermark (trigger set) when --wmtrain is given (train.py)', TRAIN_TABLE, train);
}

async function train(args: TrainArgs, cmd: Command): Promise<void> {
  const out = output(args.json);
  datasetName(args.dataset);
  if (args.resume) requireFile('load_path', args.load_path);
  requireWritableDir('save_dir', args.save_dir);
  requireWritableDir('log_dir', args.log_dir);
  const savePath = join(args.save_dir, args.save_model);

  const ckpt = args.resume ? readCheckpoint(args.load_path) : undefined;
  const seed = chooseSeed(args.seed, recordedSeed(ckpt));
  // The original restarts at the saved epoch and so trains it twice; wmnn continues after it,
  // or inside it when the checkpoint was written by Ctrl-C mid-epoch.
  const { epoch: firstEpoch, step: startStep } = ckpt ? resumePoint(ckpt) : { epoch: 0, step: 0 };
  const spec = {
    ...sessionSpec(args, out, 'saving a resumable checkpoint'),
    ...(args.wmtrain ? { trigger: triggerSpec(args) } : {}),
    ...(ckpt ? { checkpoint: ckpt, momentum: true } : {}),
    classesFrom: 'data' as const,
    seed,
    log: { dir: args.log_dir, runname: args.runname, conf: confLines(TRAIN_TABLE, args, givenOnCli(cmd)) },
    announceModel: ckpt ? '==> Resuming from checkpoint..' : '==> Building model..',
  };
  await withSession(spec, async (s) => {
    const { model, trigger } = s;
    const initialTrigger = trigger ? await evaluateLogged(model, trigger, args.wm_batch_size, 'WM acc:', s) : undefined;
    const { reports, interrupted } = await runEpochs({
      ...s,
      train: trainingData(s),
      batchSize: args.batch_size,
      ...(trigger ? { triggerAppend: args.wm_batch_size } : {}),
      triggerEvalBatchSize: args.wm_batch_size,
      privateKey: false,
      lrAt: (epoch) => scheduledLr(args.lr, epoch, args.lradj),
      seed: s.seed,
      firstEpoch,
      epochs: args.max_epochs,
      startStep,
      initialAcc: ckpt?.acc?.value ?? 0,
      save: (epoch, acc, cut) => {
        s.saveModel(savePath, { acc, epoch, state: { seed: s.seed, command: 'train', ...cutState(cut) } });
        if (cut) out.say(`Saved a resumable checkpoint to ${savePath} (continue with --resume --load_path ${savePath})`);
      },
    });
    out.result({
      command: 'train',
      checkpoint: savePath,
      seed: s.seed,
      device: model.device,
      threads: model.threads,
      libtorch: buildInfo().torchVersion,
      initialTrigger: initialTrigger ? phaseSummary(initialTrigger) : null,
      epochs: epochsJson(reports),
      interrupted,
    });
    if (interrupted) throw new RunInterrupted('a resumable checkpoint was saved');
  });
}
