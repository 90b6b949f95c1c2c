// `wmnn inspect <file> [--json]`: what a checkpoint holds, read without running anything:
// container, pickle protocol, top-level keys, model class, tensors, acc, epoch and every global
// the pickle names. Model checks that fail are listed rather than fatal, since this is where a
// user looks to find out why a file is refused elsewhere.
import type { Command } from 'commander';
import { readCheckpoint, type Checkpoint } from '../checkpoint/read.js';
import { ITEM_SIZE, numel, shapeString } from '../tensor.js';

export interface InspectTensor {
  name: string;
  dtype: string;
  shape: number[];
  requiresGrad?: boolean;
}

/** The --json form: the checkpoint's plain fields, tensors described rather than held. */
export interface InspectReport extends Pick<Checkpoint,
  'file' | 'container' | 'archiveName' | 'pickleProtocol' | 'topKeys' | 'modelClass' | 'modelKey' |
  'training' | 'acc' | 'epoch' | 'locations' | 'globals' | 'warnings' | 'problems'> {
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
    wmnn: c.wmnn === null ? null : {
      momentum: c.wmnn.momentum?.length ?? 0,
      tensors: (c.wmnn.tensors ?? []).map(([k]) => k),
      state: c.wmnn.state ?? {},
    },
    warnings: c.warnings,
    problems: c.problems,
  };
}

const py = (b: boolean): string => (b ? 'True' : 'False');

export function inspectText(c: Checkpoint): string {
  const r = inspectReport(c);
  const lines: string[] = [];
  const row = (k: string, v: string): void => void lines.push(`${`${k}:`.padEnd(16)}${v}`);
  row('file', r.file);
  row('container', `${r.container}${r.archiveName === null ? '' : ` (folder '${r.archiveName}/')`}, pickle protocol ${r.pickleProtocol}`);
  row('top-level keys', r.topKeys.length ? r.topKeys.join(', ') : '(not a dict)');
  const training = r.training === null ? '' : `, training=${r.training === 'mixed' ? 'mixed' : py(r.training)}`;
  row('model', `${r.modelClass}${r.modelKey === null ? '' : ` (in '${r.modelKey}')`}${training}`);
  row('acc', r.acc === null ? '-' : `${r.acc.value} (${r.acc.kind === 'number' ? 'Python number' : `0-dim ${r.acc.dtype} tensor`})`);
  row('epoch', r.epoch === null ? '-' : String(r.epoch));
  row('locations', r.locations.join(', ') || '-');
  row('globals', r.globals.join(', '));
  const elements = [...c.tensors.values()].reduce((a, t) => a + numel(t.shape), 0);
  const bytes = [...c.tensors.values()].reduce((a, t) => a + numel(t.shape) * ITEM_SIZE[t.dtype], 0);
  row('tensors', `${r.tensors.length} (${elements.toLocaleString('en-US')} elements, ${bytes.toLocaleString('en-US')} bytes)`);
  const width = Math.max(0, ...r.tensors.map((t) => t.name.length));
  for (const t of r.tensors) {
    const rg = t.requiresGrad === undefined ? '' : `  requires_grad=${py(t.requiresGrad)}`;
    lines.push(`  ${t.name.padEnd(width)}  ${t.dtype.padEnd(7)}  ${shapeString(t.shape)}${rg}`);
  }
  if (r.wmnn !== null) {
    const state = Object.entries(r.wmnn.state).map(([k, v]) => `${k}=${String(v)}`).join(' ');
    row('wmnn', `momentum for ${r.wmnn.momentum} parameters, tensors [${r.wmnn.tensors.join(', ')}], ${state}`);
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  for (const p of r.problems) lines.push(`problem: ${p}`);
  return `${lines.join('\n')}\n`;
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show what a checkpoint holds (container, keys, model class, tensors, acc, epoch, globals) without running any of it')
    .argument('<file>', 'a .t7/.pt checkpoint (zip or legacy format)')
    .option('--json', 'print one JSON object instead of text')
    .action((file: string, opts: { json?: boolean }) => {
      const c = readCheckpoint(file, { strict: false });
      process.stdout.write(opts.json ? `${JSON.stringify(inspectReport(c), null, 2)}\n` : inspectText(c));
    });
}
