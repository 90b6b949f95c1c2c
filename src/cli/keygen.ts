// `wmnn keygen`: the paper's KeyGen -- a new trigger set with random labels (abstract images, or
// Zhang et al.'s content, noise and unrelated kinds), in the layout --wm_path expects, with
// commitments to publish and openings to keep secret.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { loadSplit } from '../data/sources.js';
import { generateTriggerSet, writeTriggerSet } from '../watermark/keygen.js';
import {
  DEFAULT_NOISE_STD,
  DEFAULT_OVERLAY_TEXT,
  needsSource,
  TRIGGER_KINDS,
  type KindOptions,
  type TriggerKind,
} from '../watermark/trigger-kinds.js';
import { CliError, output, requireWritableDir } from './common.js';
import { type ArgsOf, flagCommand, type FlagTable, RUN_FLAGS } from './flags.js';

export const KEYGEN_TABLE = {
  out: { type: 'str', added: true, help: 'folder for the trigger set: pics/<n>.png, labels-cifar.txt, commitments.json, openings.json' },
  size: { type: 'int', default: 100, added: true, help: 'number of trigger images' },
  classes: {
    type: 'int',
    default: 10,
    added: true,
    help: 'labels are drawn uniformly from 0..classes-1 (the classes of the model to mark)',
  },
  seed: {
    type: 'int',
    added: true,
    help: 'a PUBLIC seed, for reproducible demo sets only (default: the OS CSPRNG, which a real owner needs)',
  },
  kind: {
    type: 'str',
    default: 'abstract',
    added: true,
    choices: TRIGGER_KINDS,
    help: 'abstract pictures; content: --text overlaid on --dataset images; noise: one fixed noise pattern added to them; unrelated: images of another dataset',
  },
  dataset: {
    type: 'str',
    added: true,
    help: 'content, noise: the training data of the model to mark; unrelated: another dataset (its training split is read)',
  },
  db_path: { type: 'str', default: './data', added: true, help: 'the root folder of --dataset' },
  synthetic_train: RUN_FLAGS.synthetic_train,
  text: {
    type: 'str',
    default: DEFAULT_OVERLAY_TEXT,
    added: true,
    help: 'content: the text drawn onto every image (8-pixel font, at a secret place and colour)',
  },
  noise_std: {
    type: 'float',
    default: DEFAULT_NOISE_STD,
    added: true,
    help: 'noise: standard deviation of the noise pattern in pixel levels (0..255)',
  },
  force: { type: 'bool', default: false, added: true, help: 'replace a previous trigger set in --out' },
  json: RUN_FLAGS.json,
} as const satisfies FlagTable;
type KeygenArgs = ArgsOf<typeof KEYGEN_TABLE>;

export function registerKeygen(program: Command): void {
  flagCommand(
    program,
    'keygen',
    "create a trigger set (abstract, content, noise or unrelated images) with random labels, and commitments to it (the paper's KeyGen)",
    KEYGEN_TABLE,
    keygen,
  );
}

/** The kind and, for the kinds that need one, the training split their images come from. */
async function kindOptions(args: KeygenArgs): Promise<KindOptions> {
  const kind: TriggerKind = args.kind;
  const style = { text: args.text, noiseStd: args.noise_std };
  if (!needsSource(kind)) {
    if (args.dataset !== undefined) throw new Error(`--dataset is for --kind content, noise or unrelated, not ${kind}`);
    return { kind, ...style };
  }
  if (args.dataset === undefined) throw new Error(`--kind ${kind} needs --dataset (the images it starts from) and --db_path`);
  const images = await loadSplit({ dataset: args.dataset, root: args.db_path, split: 'train', syntheticCount: args.synthetic_train });
  return { kind, source: { name: args.dataset, images }, ...style };
}

async function keygen(args: KeygenArgs): Promise<void> {
  const out = output(args.json);
  if (args.out === undefined) throw new CliError('--out is required (the folder to write the trigger set to)', 2);
  requireWritableDir('out', args.out);
  let set;
  try {
    const kind = await kindOptions(args);
    set = await generateTriggerSet({
      size: args.size,
      classes: args.classes,
      ...kind,
      ...(args.seed !== undefined ? { seed: args.seed } : {}),
    });
    writeTriggerSet(args.out, set, args.force);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e), 2);
  }
  const dir = resolve(args.out);
  const from = args.dataset !== undefined ? ` from ${args.dataset}` : '';
  out.say(`Wrote ${set.items.length} ${args.kind} trigger images${from} (labels from ${args.classes} classes) to ${dir}`);
  out.say(`  publish:     ${dir}/commitments.json`);
  if (args.seed === undefined) {
    out.say(`  keep secret: ${dir}/openings.json, and the images and labels, until ownership must be proven`);
  } else {
    out.say(`  openings:    ${dir}/openings.json`);
    out.say(`  seeded with the public seed ${args.seed}: a DEMO set that anyone can regenerate; it proves nothing`);
  }
  out.say(`Use it with --wm_path ${args.out} --wm_lbl labels-cifar.txt`);
  out.result({
    command: 'keygen',
    out: dir,
    size: set.items.length,
    classes: args.classes,
    kind: args.kind,
    randomness: set.commitments.randomness,
    commitments: `${dir}/commitments.json`,
    openings: `${dir}/openings.json`,
  });
}
