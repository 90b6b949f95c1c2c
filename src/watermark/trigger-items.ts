// A loaded trigger set as the commitments see it: each image file's exact bytes (those the loader
// decoded, not a second read that could differ), its path relative to the set's folder and its
// integer label, in the loader's order.
import { relative, sep } from 'node:path';
import type { TriggerSet } from '../data/trigger-set.js';
import type { TriggerItem } from './commitments.js';

export function triggerItems(root: string, set: TriggerSet): TriggerItem[] {
  return set.files.map((path, i) => ({
    file: relative(root, path).split(sep).join('/'),
    bytes: set.bytes[i]!,
    label: set.labels[i]!,
  }));
}
