// `wmnn keygen`: the paper's KeyGen -- a new trigger set of abstract images with random labels,
// in the layout --wm_path expects, with commitments to publish and openings to keep secret.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { generateTriggerSet, writeTriggerSet } from '../watermark/keygen.js';
import { CliError, output } from './common.js';
import { type ArgsOf, flagCommand, type FlagTable, RUN_FLAGS } from './flags.js';

export const KEYGEN_TABLE = {
  out: { type: 'str', added: true, help: 'folder for the trigger set: pics/<n>.png, labels-cifar.txt, commitments.json, openings.json' },
  size: { type: 'int', default: 100, added: true, help: 'number of trigger images' },
  classes: { type: 'int', default: 10, added: true, help: 'labels are drawn uniformly from 0..classes-1 (the classes of the model to mark)' },
  seed: { type: 'int', added: true, help: 'a PUBLIC seed, for reproducible demo sets only (default: the OS CSPRNG, which a real owner needs)' },
  force: { type: 'bool', default: false, added: true, help: 'replace a previous trigger set in --out' },
  json: RUN_FLAGS.json,
} as const satisfies FlagTable;
type KeygenArgs = ArgsOf<typeof KEYGEN_TABLE>;

export function registerKeygen(program: Command): void {
  flagCommand(program, 'keygen', 'create a trigger set of abstract images with random labels, and commitments to it (the paper\'s KeyGen)', KEYGEN_TABLE, keygen);
}

async function keygen(args: KeygenArgs): Promise<void> {
  const out = output(args.json);
  if (args.out === undefined) throw new CliError('--out is required (the folder to write the trigger set to)', 2);
  let set;
  try {
    set = await generateTriggerSet({ size: args.size, classes: args.classes, ...(args.seed !== undefined ? { seed: args.seed } : {}) });
    writeTriggerSet(args.out, set, args.force);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e), 2);
  }
  const dir = resolve(args.out);
  out.say(`Wrote ${set.items.length} trigger images (labels from ${args.classes} classes) to ${dir}`);
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
    randomness: set.commitments.randomness,
    commitments: `${dir}/commitments.json`,
    openings: `${dir}/openings.json`,
  });
}
