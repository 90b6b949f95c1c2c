// What every command does the same way: console output (silenced by --json), the seed, the run scaffold's inputs,
// early checks of flags and folders so that bad input fails before any file is written.
import { randomInt } from 'node:crypto';
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { isPrimary } from '../distributed/env.js';
import { cannotWriteInto } from '../output-dirs.js';
import { progressMode, type ProgressMode } from '../training/progress.js';
import type { EngineSpec, SessionSpec, TriggerSpec } from '../training/session.js';

/** An error the CLI prints as one line (`wmnn: <message>`), exiting with `code` (program.ts's EXIT table). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface Output {
  json: boolean;
  say: (line: string) => void;
  progress: ProgressMode;
  /** The one JSON object of --json mode. */
  result: (value: unknown) => void;
}

/** What a command prints; in a data-parallel job only rank 0 prints (the others report errors only). */
export function output(json: boolean, speaks = isPrimary()): Output {
  return {
    json,
    say: json || !speaks ? () => {} : (line) => void process.stdout.write(`${line}\n`),
    progress: speaks ? progressMode(json) : 'silent',
    result: (value) => {
      if (json && speaks) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

/** The run's seed: --seed, else one the checkpoint recorded, else a fresh random one. */
export function chooseSeed(flag: number | undefined, recorded?: number): number {
  return flag ?? recorded ?? randomInt(0, 2 ** 31);
}

/**
 * Checks, before any work starts, that files can be written into `dir`; it is created only when
 * the first file is written, so a run that fails on its inputs leaves no empty folder behind.
 */
export function requireWritableDir(flag: string, dir: string): void {
  const why = cannotWriteInto(dir);
  if (why !== null) throw new CliError(`--${flag} ${dir}: cannot write there (${why})`);
}

export function requireFile(flag: string, path: string): void {
  let ok = false;
  try {
    ok = statSync(path).isFile();
  } catch {
    ok = false;
  }
  if (!ok) throw new CliError(`--${flag} ${path}: no checkpoint found there`);
}

/** Whether the user typed this flag (commander's value source), for the conf file's additions. */
export const givenOnCli =
  (cmd: Command) =>
  (name: string): boolean =>
    cmd.getOptionValueSource(name) === 'cli';

/** The engine flags of the commands that train (--device, --threads, --amp, --timeout). */
export type EngineArgs = EngineSpec;

export { createModel } from '../training/precision.js';

/** The data flags of train, fine-tune and attack (the original's, plus the synthetic sizes). */
export interface DataArgs {
  dataset: string;
  train_db_path: string;
  test_db_path: string;
  synthetic_train: number;
  synthetic_test: number;
  train_size: number;
  test_size: number;
  wm_path: string;
  wm_lbl: string;
}

/** What train, fine-tune and attack pass to the run scaffold alike; the command adds the rest. */
export function sessionSpec(args: DataArgs & EngineArgs, out: Output, onStop: string, needTrain = true) {
  return {
    data: {
      dataset: args.dataset,
      trainRoot: args.train_db_path,
      testRoot: args.test_db_path,
      syntheticTrain: args.synthetic_train,
      syntheticTest: args.synthetic_test,
      trainSize: args.train_size,
      testSize: args.test_size,
      needTrain,
    },
    engine: { device: args.device, threads: args.threads, amp: args.amp, timeout: args.timeout },
    say: out.say,
    progressMode: out.progress,
    onStop,
  } satisfies Partial<SessionSpec>;
}

/** The trigger set the original's --wm_path and --wm_lbl name. */
export const triggerSpec = (args: Pick<DataArgs, 'wm_path' | 'wm_lbl'>): TriggerSpec => ({ path: args.wm_path, labelsFile: args.wm_lbl });
