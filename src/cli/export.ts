// `wmnn export <in> <out> --format state_dict|safetensors`: the weights of any checkpoint wmnn can
// read, in a form that carries no code: a state_dict .pt that torch.load(weights_only=True)
// accepts, or a safetensors file. Parameter flags and the module objects are not carried over.
import { dirname } from 'node:path';
import { Option, type Command } from 'commander';
import { readCheckpoint } from '../checkpoint/read.js';
import { writeSafetensors } from '../checkpoint/safetensors.js';
import { writeStateDict } from '../checkpoint/write.js';
import { cannotWriteInto } from '../output-dirs.js';
import { safeLine } from '../quote.js';
import { CliError } from './common.js';

export type ExportFormat = 'state_dict' | 'safetensors';

/** Read `input`, write its tensors to `output`; returns how many tensors were written. */
export function exportWeights(input: string, output: string, format: ExportFormat): { tensors: number; notes: string[] } {
  const c = readCheckpoint(input, { strict: false });
  if (format === 'state_dict') writeStateDict(output, c.tensors);
  else writeSafetensors(output, c.tensors);
  return { tensors: c.tensors.size, notes: [...c.warnings, ...c.problems] };
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description("write a checkpoint's weights as a weights-only state_dict .pt or a safetensors file")
    .argument('<in>', 'a checkpoint wmnn can read')
    .argument('<out>', 'the file to write (replaced atomically)')
    .addOption(new Option('--format <format>', 'output format').choices(['state_dict', 'safetensors']).makeOptionMandatory())
    .action((input: string, output: string, opts: { format: ExportFormat }) => {
      const why = cannotWriteInto(dirname(output));
      if (why !== null) throw new CliError(`export: ${output}: cannot write there (${why})`);
      const r = exportWeights(input, output, opts.format);
      for (const n of r.notes) process.stderr.write(`warning: ${safeLine(n)}\n`);
      process.stdout.write(`wrote ${output} (${opts.format}, ${r.tensors} tensors)\n`);
    });
}
