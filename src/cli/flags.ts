// The flags of the original scripts, with their spellings and defaults, kept in one place; and
// how they reach commander. argparse accepts things commander does not (`-wmt`, unique prefixes
// such as `--max_e 5`), so argv is normalised first.
import { Command, InvalidArgumentError, Option } from 'commander';
import { pyFloat } from '../training/format.js';
import { AMP_CHOICES } from '../training/precision.js';

export type FlagType = 'float' | 'int' | 'str' | 'bool';

/**
 * The values a flag may take beyond its type, checked before a command does anything: counts and
 * rates that must be positive, a probability in (0, 1), a share in (0, 1] (of a data set: all of it
 * allowed), a plain file name (no folder, not empty).
 */
export type FlagRange = 'positive' | 'nonNegative' | 'probability' | 'share' | 'fileName';

export interface FlagSpec {
  type: FlagType;
  /** The original's default (absent: none, the flag is optional). */
  default?: number | string | boolean;
  help: string;
  /** argparse's extra option string, e.g. `-wmt` for --wmtrain. */
  alias?: string;
  /** True for flags the original scripts do not have (never written to the conf file unless given). */
  added?: boolean;
  choices?: readonly string[];
  range?: FlagRange;
  /** A str flag that may be given several times; its value is the list, in order (the default alone when not given). */
  repeatable?: boolean;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

type ValueOf<S extends FlagSpec> = S extends { choices: readonly (infer C)[] }
  ? C
  : S extends { repeatable: true }
    ? string[]
    : S['type'] extends 'float' | 'int'
      ? number
      : S['type'] extends 'bool'
        ? boolean
        : string;
/** The parsed flags of a table: required where the table has a default, optional otherwise. */
export type ArgsOf<T extends FlagTable> = {
  [K in keyof T as T[K] extends { default: unknown } ? K : never]: ValueOf<T[K]>;
} & {
  [K in keyof T as T[K] extends { default: unknown } ? never : K]?: ValueOf<T[K]>;
};

// --- the original scripts' flags, in their declaration order (the conf file's order) ---------

const DATA = {
  train_db_path: { type: 'str', default: './data', help: 'the path to the root folder of the training data' },
  test_db_path: { type: 'str', default: './data', help: 'the path to the root folder of the test data' },
  dataset: {
    type: 'str',
    default: 'cifar10',
    help: 'the dataset: cifar10, cifar100 (original); fashion-mnist, mnist, synthetic, imagefolder (wmnn)',
  },
  wm_path: { type: 'str', default: './data/trigger_set/', help: 'the path the wm set' },
  wm_lbl: { type: 'str', default: 'labels-cifar.txt', help: 'the path the wm random labels' },
} as const satisfies FlagTable;

export const TRAIN_FLAGS = {
  lr: { type: 'float', range: 'positive', default: 0.1, help: 'learning rate' },
  ...DATA,
  batch_size: { type: 'int', range: 'positive', default: 100, help: 'the batch size' },
  wm_batch_size: { type: 'int', range: 'positive', default: 2, help: 'the wm batch size' },
  max_epochs: { type: 'int', range: 'nonNegative', default: 60, help: 'the maximum number of epochs' },
  lradj: { type: 'int', range: 'positive', default: 20, help: 'multiply the lr by 0.1 every n epochs' },
  save_dir: { type: 'str', default: './checkpoint/', help: 'the path to the model dir' },
  save_model: { type: 'str', range: 'fileName', default: 'model.t7', help: 'model name' },
  load_path: { type: 'str', default: './checkpoint/ckpt.t7', help: 'the path to the pre-trained model, to be used with resume flag' },
  resume: { type: 'bool', default: false, alias: '-r', help: 'resume from checkpoint (continues at the epoch after the saved one)' },
  wmtrain: { type: 'bool', default: false, alias: '-wmt', help: 'train with the wm set appended to every batch' },
  log_dir: { type: 'str', default: './log', help: 'the path the log dir' },
  runname: { type: 'str', default: 'train', help: 'the exp name' },
} as const satisfies FlagTable;

export const PREDICT_FLAGS = {
  model_path: { type: 'str', default: 'checkpoint/teacher-cifar100-2.t7', help: 'the model path' },
  wm_path: DATA.wm_path,
  wm_lbl: DATA.wm_lbl,
  testwm: { type: 'bool', default: false, help: 'test the wm set instead of the test set' },
  db_path: { type: 'str', default: './data', help: 'the path to the root folder of the test data' },
} as const satisfies FlagTable;

export const FINETUNE_FLAGS = {
  lr: { type: 'float', range: 'positive', default: 0.001, help: 'learning rate' },
  ...DATA,
  batch_size: { type: 'int', range: 'positive', default: 100, help: 'the batch size' },
  max_epochs: { type: 'int', range: 'nonNegative', default: 20, help: 'the maximum number of epochs' },
  load_path: { type: 'str', default: './checkpoint/model.t7', help: 'the path to the pre-trained model' },
  save_dir: { type: 'str', default: './checkpoint/', help: 'the path to the model dir' },
  save_model: { type: 'str', range: 'fileName', default: 'finetune.t7', help: 'model name (saved as <runname><save_model>)' },
  log_dir: { type: 'str', default: './log', help: 'the path the log dir' },
  runname: { type: 'str', default: 'finetune', help: 'the exp name' },
  tunealllayers: { type: 'bool', default: false, help: 'fine-tune all layers' },
  reinitll: { type: 'bool', default: false, help: 're initialize the last layer' },
} as const satisfies FlagTable;

// --- wmnn's additions ---------------------------------------------------------------------

/** Where and how the engine computes: every command that builds a model. */
export const DEVICE_FLAGS = {
  device: { type: 'str', default: 'auto', added: true, help: 'auto (CUDA if available, else CPU), cpu, cuda or cuda:N' },
  threads: { type: 'int', range: 'nonNegative', default: 0, added: true, help: 'CPU threads (0: OMP_NUM_THREADS if set, else every core)' },
  amp: {
    type: 'str',
    default: 'off',
    added: true,
    choices: AMP_CHOICES,
    help: 'mixed precision: off (float32, the original), auto (bf16 where this CPU/GPU runs it natively), bf16 autocast, or fp16 with loss scaling (CUDA); weights stay float32',
  },
} as const satisfies FlagTable;

/** The device flags plus data-parallel training, for the commands that train (predict and verify evaluate in one process). */
export const ENGINE_FLAGS = {
  ...DEVICE_FLAGS,
  nproc: {
    type: 'str',
    default: '1',
    added: true,
    help: 'data-parallel ranks to start on this machine, one per device (auto: one per visible GPU, else 1)',
  },
  timeout: {
    type: 'int',
    range: 'positive',
    default: 60,
    added: true,
    help: 'seconds a rank waits for the others before it fails, naming the rank that did not answer',
  },
} as const satisfies FlagTable;

export const RUN_FLAGS = {
  seed: {
    type: 'int',
    added: true,
    help: 'seed for initialisation, shuffling and augmentation (default: random, recorded in the checkpoint)',
  },
  json: { type: 'bool', default: false, added: true, help: 'print one JSON object and nothing else' },
  synthetic_train: { type: 'int', range: 'positive', default: 5000, added: true, help: 'training images of --dataset synthetic' },
  synthetic_test: { type: 'int', range: 'positive', default: 1000, added: true, help: 'test images of --dataset synthetic' },
  train_size: {
    type: 'int',
    range: 'nonNegative',
    default: 0,
    added: true,
    help: 'use only the first N images of the training split (0: all)',
  },
  test_size: { type: 'int', range: 'nonNegative', default: 0, added: true, help: 'use only the first N images of the test split (0: all)' },
} as const satisfies FlagTable;

export const PREDICT_EXTRA_FLAGS = {
  json: RUN_FLAGS.json,
  save_logits: { type: 'str', added: true, help: 'write the logits (N x classes, float32) to this .npy file' },
  dataset: {
    ...DATA.dataset,
    added: true,
    help: 'the test set: cifar10 (the original), cifar100, fashion-mnist, mnist, synthetic or imagefolder',
  },
  batch_size: { type: 'int', range: 'positive', default: 100, added: true, help: 'evaluation batch size (the original: 100)' },
  synthetic_test: RUN_FLAGS.synthetic_test,
  test_size: RUN_FLAGS.test_size,
} as const satisfies FlagTable;

// --- from the command line to typed values -------------------------------------------------

/** A flag the command line got wrong: exit status 2, like commander's own usage errors. */
export class UsageError extends Error {
  readonly code = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function parser(name: string, type: FlagType, choices?: readonly string[]): ((v: string) => number | string) | undefined {
  if (type === 'float') {
    return (v) => {
      const x = Number(v);
      // argparse takes 'inf' and 'nan'; no flag of wmnn means anything by them.
      if (v.trim() === '' || !Number.isFinite(x)) throw new InvalidArgumentError(`invalid float value: '${v}' (a finite number)`);
      return x;
    };
  }
  if (type === 'int') {
    return (v) => {
      if (!/^\s*[-+]?\d+\s*$/.test(v)) throw new InvalidArgumentError(`invalid int value: '${v}'`);
      return Number.parseInt(v, 10);
    };
  }
  if (choices) {
    return (v) => {
      if (!choices.includes(v)) throw new InvalidArgumentError(`invalid choice: '${v}' (choose from ${choices.join(', ')}) for --${name}`);
      return v;
    };
  }
  return undefined;
}

/** Adds a table's flags to a commander command, defaults shown in --help. */
export function addFlags(cmd: Command, table: FlagTable): Command {
  for (const [name, spec] of Object.entries(table)) {
    const flags = spec.type === 'bool' ? `--${name}` : `--${name} <${spec.type === 'str' ? 'value' : spec.type}>`;
    const help = spec.alias ? `${spec.help} (also ${spec.alias})` : spec.help;
    const opt = new Option(flags, help);
    const parse = parser(name, spec.type, spec.choices);
    if (parse) opt.argParser(parse);
    // The first use replaces the default (commander passes it as the previous value), later ones append.
    if (spec.repeatable) opt.argParser((v: string, previous: unknown) => (Array.isArray(previous) ? [...(previous as string[]), v] : [v]));
    if (spec.default !== undefined && spec.type !== 'bool') opt.default(spec.default);
    if (spec.type === 'bool') opt.default(false);
    cmd.addOption(opt);
  }
  return cmd;
}

/**
 * argparse's spellings to commander's: an option's extra string (`-wmt` -> `--wmtrain`, `-r`),
 * and any unique prefix of a long option (`--max_e` -> `--max_epochs`), as argparse's
 * allow_abbrev does. An ambiguous prefix is an error naming the candidates.
 */
export function normalizeArgv(args: readonly string[], table: FlagTable, extraLong: readonly string[] = []): string[] {
  const longs = [...Object.keys(table), ...extraLong];
  const aliases = new Map(
    Object.entries(table)
      .filter(([, s]) => s.alias)
      .map(([n, s]) => [s.alias as string, n]),
  );
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const alias = aliases.get(arg);
    if (alias) {
      out.push(`--${alias}`);
      continue;
    }
    const m = /^--([^=]+)(=.*)?$/.exec(arg);
    if (m && !longs.includes(m[1] as string)) {
      const candidates = longs.filter((n) => n.startsWith(m[1] as string));
      if (candidates.length === 1) {
        out.push(`--${candidates[0]}${m[2] ?? ''}`);
        continue;
      }
      if (candidates.length > 1) {
        throw new Error(`ambiguous option: --${m[1]} could match ${candidates.map((c) => `--${c}`).join(', ')}`);
      }
    }
    out.push(arg);
  }
  return out;
}

/** A value as Python's str() shows it (the conf file): `False`, `0.1`, `1.0`, `./data`. */
export function pythonStr(value: unknown, type: FlagType): string {
  if (value === undefined) return 'None';
  if (type === 'bool') return value ? 'True' : 'False';
  if (type === 'float') return pyFloat(Number(value));
  return String(value);
}

/**
 * The conf file's lines: every original flag in declaration order, as `vars(args)` gives them,
 * then any wmnn addition the user set explicitly.
 */
export function confLines(
  table: FlagTable,
  values: Readonly<Record<string, unknown>>,
  givenOnCli: (name: string) => boolean,
): [string, string][] {
  const entries = Object.entries(table);
  const original = entries.filter(([, s]) => !s.added);
  const added = entries.filter(([n, s]) => s.added && givenOnCli(n));
  return [...original, ...added].map(([n, s]) => [n, pythonStr(values[n], s.type)]);
}

const RANGE_TEXT: Record<FlagRange, string> = {
  positive: 'must be more than 0',
  nonNegative: 'must be 0 or more',
  probability: 'must be between 0 and 1 (exclusive)',
  share: 'must be more than 0 and at most 1',
  fileName: 'must be a file name (not empty, no folder)',
};

function inRange(range: FlagRange, type: FlagType, v: unknown): boolean {
  if (range === 'fileName') return typeof v === 'string' && v !== '' && v !== '.' && v !== '..' && !/[/\\\0]/.test(v);
  if (typeof v !== 'number' || !Number.isFinite(v) || (type === 'int' && !Number.isInteger(v))) return false;
  if (range === 'positive') return v > 0;
  if (range === 'nonNegative') return v >= 0;
  return range === 'share' ? v > 0 && v <= 1 : v > 0 && v < 1;
}

/** The first flag outside its range, as a usage error's message; null when all are in range. */
export function rangeError(table: FlagTable, values: Readonly<Record<string, unknown>>): string | null {
  for (const [name, spec] of Object.entries(table)) {
    const v = values[name];
    if (spec.range === undefined || v === undefined) continue;
    if (!inRange(spec.range, spec.type, v)) return `--${name} ${RANGE_TEXT[spec.range]}, got ${JSON.stringify(v)}`;
  }
  return null;
}

/** A subcommand whose flags come from `table`; `run` gets them typed. */
export function flagCommand<T extends FlagTable>(
  program: Command,
  name: string,
  description: string,
  table: T,
  run: (args: ArgsOf<T>, cmd: Command) => Promise<void>,
): Command {
  const cmd = program.command(name).description(description);
  return addFlags(cmd, table).action(async (_opts: unknown, c: Command) => {
    const args = c.opts<ArgsOf<T>>();
    for (const [name, spec] of Object.entries(table)) {
      const values = args as Record<string, unknown>;
      if (spec.repeatable && values[name] !== undefined && !Array.isArray(values[name])) values[name] = [values[name]];
    }
    const bad = rangeError(table, args);
    if (bad !== null) throw new UsageError(bad);
    await run(args, c);
  });
}
