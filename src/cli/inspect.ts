// `wmnn inspect <file> [--json]`: what a checkpoint holds, read without running anything:
// container, pickle protocol, top-level keys, model class, tensors, acc, epoch and every global
// the pickle names. Model checks that fail are listed rather than fatal, since this is where a
// user looks to find out why a file is refused elsewhere. Everything taken from the file is
// printed escaped (control characters as \xNN): names in the table are shortened excerpts, long
// lists are cut, and the JSON keeps every name whole but escapes what a terminal would act on.
import type { Command } from 'commander';
import { readCheckpoint, type Checkpoint } from '../checkpoint/read.js';
import { excerpt, safeLine, terminalJson } from '../quote.js';
import { ITEM_SIZE, numel, shapeString } from '../tensor.js';

export interface InspectTensor {
  name: string;
  dtype: string;
  shape: number[];
  requiresGrad?: boolean;
}

/** The --json form: the checkpoint's plain fields, tensors described rather than held. */
export interface InspectReport extends Pick<
  Checkpoint,
  | 'file'
  | 'container'
  | 'archiveName'
  | 'pickleProtocol'
  | 'topKeys'
  | 'modelClass'
  | 'modelKey'
  | 'training'
  | 'acc'
  | 'epoch'
  | 'locations'
  | 'globals'
  | 'warnings'
  | 'problems'
> {
  tensors: InspectTensor[];
  wmnn: { momentum: number; tensors: string[]; state: Record<string, number | string | boolean> } | null;
}

export function inspectReport(c: Checkpoint): InspectReport {
  return {
    file: c.file,
    container: c.container,
    archiveName: c.archiveName,
    pickleProtocol: c.pickleProtocol,
    topKeys: c.topKeys,
    modelClass: c.modelClass,
    modelKey: c.modelKey,
    training: c.training,
    acc: c.acc,
    epoch: c.epoch,
    locations: c.locations,
    globals: c.globals,
    tensors: [...c.tensors].map(([name, t]) => {
      const rg = c.requiresGrad.get(name);
      return { name, dtype: t.dtype, shape: t.shape, ...(rg === undefined ? {} : { requiresGrad: rg }) };
    }),
    wmnn:
      c.wmnn === null
        ? null
        : {
            momentum: c.wmnn.momentum?.length ?? 0,
            tensors: (c.wmnn.tensors ?? []).map(([k]) => k),
            state: c.wmnn.state ?? {},
          },
    warnings: c.warnings,
    problems: c.problems,
  };
}

const py = (b: boolean): string => (b ? 'True' : 'False');

/** Items of a list the table shows before it says how many more there are. */
const MAX_LISTED = 20;
/** Tensor rows the table shows; a ResNet-18 has 107. */
const MAX_TENSOR_ROWS = 1000;

function listed(items: readonly string[]): string {
  const shown = items
    .slice(0, MAX_LISTED)
    .map((x) => excerpt(x))
    .join(', ');
  return items.length > MAX_LISTED ? `${shown}, … (${items.length - MAX_LISTED} more)` : shown;
}

export function inspectText(c: Checkpoint): string {
  const r = inspectReport(c);
  const lines: string[] = [];
  const row = (k: string, v: string): void => void lines.push(`${`${k}:`.padEnd(16)}${v}`);
  row('file', excerpt(r.file));
  const folder = r.archiveName === null ? '' : ` (folder '${excerpt(r.archiveName)}/')`;
  row('container', `${r.container}${folder}${r.pickleProtocol === null ? '' : `, pickle protocol ${r.pickleProtocol}`}`);
  row('top-level keys', r.topKeys.length ? listed(r.topKeys) : '(not a dict)');
  const training = r.training === null ? '' : `, training=${r.training === 'mixed' ? 'mixed' : py(r.training)}`;
  row('model', `${r.modelClass}${r.modelKey === null ? '' : ` (in '${r.modelKey}')`}${training}`);
  row('acc', r.acc === null ? '-' : `${r.acc.value} (${r.acc.kind === 'number' ? 'Python number' : `0-dim ${r.acc.dtype} tensor`})`);
  row('epoch', r.epoch === null ? '-' : String(r.epoch));
  row('locations', listed(r.locations) || '-');
  row('globals', listed(r.globals));
  const elements = [...c.tensors.values()].reduce((a, t) => a + numel(t.shape), 0);
  const bytes = [...c.tensors.values()].reduce((a, t) => a + numel(t.shape) * ITEM_SIZE[t.dtype], 0);
  row('tensors', `${r.tensors.length} (${elements.toLocaleString('en-US')} elements, ${bytes.toLocaleString('en-US')} bytes)`);
  const rows = r.tensors.slice(0, MAX_TENSOR_ROWS).map((t) => ({ ...t, name: excerpt(t.name) }));
  const width = rows.reduce((w, t) => Math.max(w, t.name.length), 0);
  for (const t of rows) {
    const rg = t.requiresGrad === undefined ? '' : `  requires_grad=${py(t.requiresGrad)}`;
    lines.push(`  ${t.name.padEnd(width)}  ${t.dtype.padEnd(7)}  ${shapeString(t.shape)}${rg}`);
  }
  if (r.tensors.length > rows.length) lines.push(`  … (${r.tensors.length - rows.length} more)`);
  if (r.wmnn !== null) {
    const state = Object.entries(r.wmnn.state)
      .slice(0, MAX_LISTED)
      .map(([k, v]) => `${excerpt(k)}=${excerpt(String(v))}`)
      .join(' ');
    row('wmnn', `momentum for ${r.wmnn.momentum} parameters, tensors [${listed(r.wmnn.tensors)}], ${state}`);
  }
  for (const w of r.warnings) lines.push(`warning: ${safeLine(w)}`);
  for (const p of r.problems) lines.push(`problem: ${safeLine(p)}`);
  return `${lines.join('\n')}\n`;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show what a checkpoint holds (container, keys, model class, tensors, acc, epoch, globals) without running any of it')
    .argument('<file>', 'a .t7/.pt checkpoint (zip or legacy format) or a .safetensors file')
    .option('--json', 'print one JSON object instead of text')
    .action((file: string, opts: { json?: boolean }) => {
      const c = readCheckpoint(file, { strict: false });
      process.stdout.write(opts.json ? `${terminalJson(inspectReport(c), 2)}\n` : inspectText(c));
    });
}
