// A loaded trigger set as the commitments see it: each image file's exact bytes, its path
// relative to the set's folder and its integer label, in the loader's order.
import { readFile } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import type { TriggerSet } from '../data/trigger-set.js';
import type { TriggerItem } from './commitments.js';

export async function triggerItems(root: string, set: TriggerSet): Promise<TriggerItem[]> {
  return Promise.all(
    set.files.map(async (path, i) => ({
      file: relative(root, path).split(sep).join('/'),
      bytes: new Uint8Array(await readFile(path)),
      label: set.labels[i]!,
    })),
  );
}
