// What every command does the same way: console output (silenced by --json), Ctrl-C, the seed,
// early checks of flags and folders so that bad input fails before any file is written.
import { randomInt } from 'node:crypto';
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { ImageSet } from '../data/dataset.js';
import { loadSplit } from '../data/sources.js';
import { Model } from '../native/engine.js';
import { progressMode, type ProgressMode } from '../training/progress.js';
import type { StopFlag } from '../training/loop.js';

/** An error the CLI prints as one line (`wmnn: <message>`), exiting with `code`. */
export class CliError extends Error {
  constructor(message: string, readonly code = 1) {
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

export function output(json: boolean): Output {
  return {
    json,
    say: json ? () => {} : (line) => void process.stdout.write(`${line}\n`),
    progress: progressMode(json),
    result: (value) => {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}

/** The run's seed: --seed, else one the checkpoint recorded, else a fresh random one. */
export function chooseSeed(flag: number | undefined, recorded?: number): number {
  return flag ?? recorded ?? randomInt(0, 2 ** 31);
}

/**
 * First Ctrl-C: the running step finishes, the command wraps up (train and fine-tune write a
 * resumable checkpoint), exit 130. A second Ctrl-C quits at once (files are written atomically,
 * so nothing is left half-done).
 */
export function onInterrupt(say: (line: string) => void, then = 'saving a resumable checkpoint'): StopFlag & { dispose: () => void } {
  const flag = { requested: false, dispose: () => void process.off('SIGINT', handler) };
  function handler(): void {
    if (flag.requested) process.exit(130);
    flag.requested = true;
    say(`\nInterrupted: finishing this step, then ${then} (Ctrl-C again to quit now)`);
  }
  process.on('SIGINT', handler);
  return flag;
}

export function requirePositive(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new CliError(`--${name} must be a positive integer, got ${value}`);
}

export function requireNonNegative(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new CliError(`--${name} must be 0 or more, got ${value}`);
}

/** Creates `dir` if needed and checks that files can be written there, before any work starts. */
export function requireWritableDir(flag: string, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw new Error('not a folder');
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const why = e instanceof Error ? (e as NodeJS.ErrnoException).code ?? e.message : String(e);
    throw new CliError(`--${flag} ${dir}: cannot write there (${why})`);
  }
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
export const givenOnCli = (cmd: Command) => (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';

/** The engine flags every command shares (--device, --threads, --amp). */
export interface EngineArgs {
  device: string;
  threads: number;
  amp: 'off' | 'bf16' | 'fp16';
}

/** A ResNet-18 on the device the flags name. */
export function createModel(args: EngineArgs, numClasses: number, seed?: number): Model {
  return new Model({ numClasses, device: args.device, threads: args.threads, amp: args.amp, ...(seed !== undefined ? { seed } : {}) });
}

/** The data flags of train, fine-tune and attack (the original's, plus the synthetic sizes). */
export interface DataArgs {
  dataset: string;
  train_db_path: string;
  test_db_path: string;
  synthetic_train: number;
  synthetic_test: number;
}

/** The test split, and the training split unless `train` is false. */
export async function loadTrainTest(args: DataArgs): Promise<{ train: ImageSet; test: ImageSet }>;
export async function loadTrainTest(args: DataArgs, train: boolean): Promise<{ train?: ImageSet; test: ImageSet }>;
export async function loadTrainTest(args: DataArgs, train = true): Promise<{ train?: ImageSet; test: ImageSet }> {
  const trainSet = train ? await loadSplit({ dataset: args.dataset, root: args.train_db_path, split: 'train', syntheticCount: args.synthetic_train }) : undefined;
  const test = await loadSplit({ dataset: args.dataset, root: args.test_db_path, split: 'test', syntheticCount: args.synthetic_test });
  return { ...(trainSet ? { train: trainSet } : {}), test };
}
