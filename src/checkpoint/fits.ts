// Whether a checkpoint's tensors fit a model: the same names, shapes and dtypes. Used when tensors
// go into an engine model, and by the writer before it lays out a file.

import { excerpt } from '../quote.js';
import { shapeString, type DType, type Tensor } from '../tensor.js';
import { CheckpointError } from './errors.js';

export interface ExpectedTensor {
  name: string;
  shape: readonly number[];
  dtype: DType;
}

/** How many names one message lists before it says "and N more". */
const MAX_LISTED = 5;

/**
 * Check that `tensors` fit a model: the same names, shapes and dtypes (order is not compared).
 * Throws one line listing the first mismatches. `label` (a file name) prefixes it.
 */
export function checkFits(
  tensors: ReadonlyMap<string, Tensor> | Iterable<readonly [string, Tensor]>,
  expected: readonly ExpectedTensor[],
  label?: string,
): void {
  const have = tensors instanceof Map ? (tensors as ReadonlyMap<string, Tensor>) : new Map(tensors);
  const want = new Map(expected.map((e) => [e.name, e]));
  const issues: string[] = [];
  const missing = expected.filter((e) => !have.has(e.name)).map((e) => e.name);
  const unexpected = [...have.keys()].filter((k) => !want.has(k)).map((k) => excerpt(k));
  for (const e of expected) {
    const t = have.get(e.name);
    if (t === undefined) continue;
    const shapeOk = t.shape.length === e.shape.length && t.shape.every((d, i) => d === e.shape[i]);
    if (!shapeOk) issues.push(`${e.name} has shape ${shapeString(t.shape)}, expected ${shapeString(e.shape)}`);
    else if (t.dtype !== e.dtype) issues.push(`${e.name} is ${t.dtype}, expected ${e.dtype}`);
  }
  const more = (n: number, sep: string): string => (n > MAX_LISTED ? `${sep}and ${n - MAX_LISTED} more` : '');
  const list = (what: string, names: string[]): string => `${what} ${names.slice(0, MAX_LISTED).join(', ')}${more(names.length, ' ')}`;
  const parts: string[] = [];
  if (missing.length) parts.push(list('missing', missing));
  if (unexpected.length) parts.push(list('unexpected', unexpected));
  if (issues.length) parts.push(issues.slice(0, MAX_LISTED).join('; ') + more(issues.length, '; '));
  if (parts.length === 0) return;
  throw new CheckpointError(`${label ? `${label}: ` : ''}checkpoint does not fit the model: ${parts.join('; ')}`);
}
