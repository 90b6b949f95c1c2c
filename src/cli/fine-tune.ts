// `wmnn fine-tune`: fine-tune.py -- the paper's removal attacks on a watermarked model:
// FTLL (default), FTAL (--tunealllayers), RTLL (--reinitll), RTAL (both). The trigger set is
// scored with the owner's original last layer (the "private key") after every epoch.
import { join } from 'node:path';
import { Command } from 'commander';
import { readCheckpoint, type Checkpoint } from '../checkpoint/read.js';
import { datasetName } from '../data/sources.js';
import { loadTriggerSet } from '../data/trigger-set.js';
import type { Model } from '../native/engine.js';
import type { Tensor } from '../tensor.js';
import { deriveSeed } from '../training/loop.js';
import { RunLog } from '../training/logs.js';
import { cutState, loadInto, recordedSeed, resumePoint, saveModel } from '../training/persist.js';
import { attackMode, epochsJson, evaluateLogged, phaseSummary, prepareAttack, runEpochs } from '../training/run.js';
import { type ArgsOf, confLines, ENGINE_FLAGS, FINETUNE_FLAGS, flagCommand, type FlagTable, RUN_FLAGS } from './flags.js';
import { chooseSeed, CliError, createModel, givenOnCli, loadTrainTest, onInterrupt, output, requireFile, requireNonNegative, requirePositive, requireWritableDir } from './common.js';

const RESUME_FLAG = {
  resume: { type: 'bool', default: false, added: true, help: 'continue an interrupted fine-tuning from <save_dir>/<runname><save_model>' },
} as const satisfies FlagTable;

export const FINETUNE_TABLE = { ...FINETUNE_FLAGS, ...ENGINE_FLAGS, ...RUN_FLAGS, ...RESUME_FLAG } as const;
type FineTuneArgs = ArgsOf<typeof FINETUNE_TABLE>;

const KEY_NAMES = ['private_key.weight', 'private_key.bias'] as const;

export function registerFineTune(program: Command): void {
  flagCommand(program, 'fine-tune', 'attack a watermarked model by fine-tuning: FTLL, FTAL (--tunealllayers), RTLL (--reinitll), RTAL (both) (fine-tune.py)', FINETUNE_TABLE, fineTune);
}

async function fineTune(args: FineTuneArgs, cmd: Command): Promise<void> {
  const out = output(args.json);
  datasetName(args.dataset);
  requirePositive('batch_size', args.batch_size);
  requireNonNegative('max_epochs', args.max_epochs);
  requireWritableDir('save_dir', args.save_dir);
  const savePath = join(args.save_dir, `${args.runname}${args.save_model}`);
  const loadPath = args.resume ? savePath : args.load_path;
  requireFile(args.resume ? 'save_dir' : 'load_path', loadPath);

  out.say('==> Preparing data..');
  const { train: trainSet, test: testSet } = await loadTrainTest(args);
  const numClasses = testSet.numClasses;
  out.say('Loading watermark images');
  const wmSet = await loadTriggerSet({ path: args.wm_path, labelsFile: args.wm_lbl, numClasses, normalization: testSet.normalization });

  out.say('==> loading model...');
  const ckpt = readCheckpoint(loadPath);
  const seed = chooseSeed(args.seed, recordedSeed(ckpt));
  const model = createModel(args, numClasses, seed);
  loadInto(model, ckpt, { momentum: args.resume });
  // Files are written only once every input has been read and checked.
  const log = new RunLog(args.log_dir, args.runname);
  log.writeConf(confLines(FINETUNE_TABLE, args, givenOnCli(cmd)));
  const reinit = args.reinitll;
  const mode = attackMode(args.tunealllayers, reinit);
  if (args.resume) {
    restorePrivateKey(model, ckpt, reinit);
    model.trainOnlyLinear(!args.tunealllayers);
  } else {
    prepareAttack(model, mode, deriveSeed(seed, 0x11));
  }
  if (model.device !== 'cpu') out.say(`Using ${model.device}`);

  const train = model.upload(trainSet);
  const test = model.upload(testSet);
  const wm = model.upload(wmSet);
  const stop = onInterrupt(out.say);
  const plan = { log, say: out.say, progressMode: out.progress };
  let initial;
  let firstEpoch = ckpt.epoch ?? 0; // the original numbers fine-tuning epochs from the loaded one
  let startStep = 0;
  if (args.resume) {
    ({ epoch: firstEpoch, step: startStep } = resumePoint(ckpt));
  } else {
    initial = {
      wm: phaseSummary(await evaluateLogged(model, wm, args.batch_size, 'WM acc:', plan)),
      test: phaseSummary(await evaluateLogged(model, test, args.batch_size, 'Test acc:', plan)),
    };
  }
  // A resumed fine-tuning ends where the interrupted one planned to.
  const plannedLast = ckpt.wmnn?.state?.last_epoch;
  const lastEpoch = args.resume && typeof plannedLast === 'number' ? plannedLast : firstEpoch + args.max_epochs - 1;
  const epochsLeft = Math.max(0, lastEpoch - firstEpoch + 1);

  const { reports, interrupted } = await runEpochs({
    ...plan,
    model,
    train,
    test,
    batchSize: args.batch_size,
    wm,
    wmEvalBatchSize: args.batch_size,
    privateKey: reinit,
    lrAt: () => args.lr,
    seed,
    firstEpoch,
    epochs: epochsLeft,
    startStep,
    stop,
    initialAcc: ckpt.acc?.value ?? 0,
    save: (epoch, acc, cut) => {
      saveModel(savePath, model, {
        acc,
        epoch,
        state: { seed, command: 'fine-tune', mode, last_epoch: lastEpoch, ...cutState(cut) },
        tensors: reinit ? privateKeyTensors(model) : [],
      });
      if (cut) out.say(`Saved a resumable checkpoint to ${savePath} (continue with the same flags and --resume)`);
    },
  });
  stop.dispose();
  out.result({ command: 'fine-tune', mode, checkpoint: savePath, seed, device: model.device, initial: initial ?? null, epochs: epochsJson(reports), interrupted });
  if (interrupted) throw new CliError('interrupted', 130);
}

/** The stashed private key, read by swapping it in and back out. */
function privateKeyTensors(model: Model): [string, Tensor][] {
  model.swapLinear();
  const key: [string, Tensor][] = [[KEY_NAMES[0], model.read('linear.weight')], [KEY_NAMES[1], model.read('linear.bias')]];
  model.swapLinear();
  return key;
}

function restorePrivateKey(model: Model, ckpt: Checkpoint, reinit: boolean): void {
  if (!reinit) {
    model.stashLinear();
    return;
  }
  const saved = new Map(ckpt.wmnn?.tensors ?? []);
  const [w, b] = KEY_NAMES.map((n) => saved.get(n));
  if (!w || !b) throw new CliError(`${ckpt.file}: no private key saved in this checkpoint; it cannot resume an RTLL/RTAL run`);
  const trained: [Tensor, Tensor] = [model.read('linear.weight'), model.read('linear.bias')];
  model.write('linear.weight', w);
  model.write('linear.bias', b);
  model.stashLinear();
  model.write('linear.weight', trained[0]);
  model.write('linear.bias', trained[1]);
}
