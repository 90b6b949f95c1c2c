// `wmnn fine-tune`: fine-tune.py -- the paper's removal attacks on a watermarked model:
// FTLL (default), FTAL (--tunealllayers), RTLL (--reinitll), RTAL (both). The trigger set is
// scored with the owner's original last layer (the "private key") after every epoch.
import { join } from 'node:path';
import { Command } from 'commander';
import { readCheckpoint } from '../checkpoint/read.js';
import { datasetName } from '../data/sources.js';
import { attackMode, fineTune } from '../training/fine-tune.js';
import { recordedSeed } from '../training/persist.js';
import { epochsJson, phaseSummary } from '../training/run.js';
import { RunInterrupted } from '../training/interrupted.js';
import { withSession } from '../training/session.js';
import { type ArgsOf, confLines, ENGINE_FLAGS, FINETUNE_FLAGS, flagCommand, type FlagTable, RUN_FLAGS } from './flags.js';
import { chooseSeed, givenOnCli, output, requireFile, requireWritableDir, sessionSpec, triggerSpec } from './common.js';

const RESUME_FLAG = {
  resume: { type: 'bool', default: false, added: true, help: 'continue an interrupted fine-tuning from <save_dir>/<runname><save_model>' },
} as const satisfies FlagTable;

export const FINETUNE_TABLE = { ...FINETUNE_FLAGS, ...ENGINE_FLAGS, ...RUN_FLAGS, ...RESUME_FLAG } as const;
type FineTuneArgs = ArgsOf<typeof FINETUNE_TABLE>;

export function registerFineTune(program: Command): void {
  flagCommand(
    program,
    'fine-tune',
    'attack a watermarked model by fine-tuning: FTLL, FTAL (--tunealllayers), RTLL (--reinitll), RTAL (both) (fine-tune.py)',
    FINETUNE_TABLE,
    fineTuneCommand,
  );
}

async function fineTuneCommand(args: FineTuneArgs, cmd: Command): Promise<void> {
  const out = output(args.json);
  datasetName(args.dataset);
  requireWritableDir('save_dir', args.save_dir);
  requireWritableDir('log_dir', args.log_dir);
  const savePath = join(args.save_dir, `${args.runname}${args.save_model}`);
  const loadPath = args.resume ? savePath : args.load_path;
  requireFile(args.resume ? 'save_dir' : 'load_path', loadPath);

  const ckpt = readCheckpoint(loadPath);
  const seed = chooseSeed(args.seed, recordedSeed(ckpt));
  const mode = attackMode(args.tunealllayers, args.reinitll);
  const spec = {
    ...sessionSpec(args, out, 'saving a resumable checkpoint'),
    trigger: triggerSpec(args),
    checkpoint: ckpt,
    classesFrom: 'data' as const,
    seed,
    log: { dir: args.log_dir, runname: args.runname, conf: confLines(FINETUNE_TABLE, args, givenOnCli(cmd)) },
    announceModel: '==> loading model...',
  };
  await withSession(spec, async (s) => {
    const r = await fineTune(s, {
      checkpoint: ckpt,
      mode,
      lr: args.lr,
      maxEpochs: args.max_epochs,
      batchSize: args.batch_size,
      seed: s.seed,
      resume: args.resume,
      scoreFirst: true,
      savePath,
      command: 'fine-tune',
    });
    if (r.interrupted) out.say(`Saved a resumable checkpoint to ${savePath} (continue with the same flags and --resume)`);
    const initial = r.initial ? { trigger: phaseSummary(r.initial.trigger), test: phaseSummary(r.initial.test) } : null;
    out.result({
      command: 'fine-tune',
      mode,
      checkpoint: savePath,
      seed: s.seed,
      device: s.model.device,
      initial,
      epochs: epochsJson(r.reports),
      interrupted: r.interrupted,
    });
    if (r.interrupted) throw new RunInterrupted('a resumable checkpoint was saved');
  });
}
