// wmnn's own resume state, stored under one extra top-level key that the original scripts never
// read ('wmnn'), so a file carrying it still loads in PyTorch as the original expects
// (docs/checkpoint-format.md §12):
//
//   'wmnn': {'schema': 1,
//            'momentum': OrderedDict(param name -> tensor),   # SGD momentum buffers
//            'tensors': OrderedDict(name -> tensor),          # any other named tensors
//            'state': {str: int | float | str | bool}}        # small scalars (lr, counters, ...)
//
// Every field but 'schema' is optional; fields a reader does not know are ignored. A reader that
// meets a newer schema ignores the key.
// The encoder and the decoder of this layout are both here.

import { excerpt } from '../quote.js';
import type { Tensor } from '../tensor.js';
import type { Findings } from './errors.js';
import type { TensorMaterializer } from './materialize.js';
import { strKey } from './model-graph.js';
import { PyDict, PyFloat, asInt, typeName, type PyValue } from './pickle-values.js';
import { TensorRef } from './torch-objects.js';
import type { Item, TorchPickler } from './torch-pickler.js';

export const WMNN_KEY = 'wmnn';
export const WMNN_SCHEMA = 1;

export type WmnnScalar = number | string | boolean;

export interface WmnnExtra {
  /** SGD momentum buffers by parameter name, in parameter order. */
  momentum?: [string, Tensor][];
  /** Other named tensors (e.g. a layer kept aside). */
  tensors?: [string, Tensor][];
  /** Small scalars; numbers that are integers are stored as Python ints, others as floats. */
  state?: Record<string, WmnnScalar>;
}

/** Pickle `extra` as the value of the 'wmnn' key. */
export function encodeExtra(p: TorchPickler, extra: WmnnExtra): void {
  const named =
    (list: readonly [string, Tensor][]): (() => void) =>
    () =>
      p.orderedDict(list.map(([k, t]) => ({ key: k, value: () => p.tensor(t) })));
  const items: Item[] = [{ key: 'schema', value: () => p.int(WMNN_SCHEMA) }];
  if (extra.momentum) items.push({ key: 'momentum', value: named(extra.momentum) });
  if (extra.tensors) items.push({ key: 'tensors', value: named(extra.tensors) });
  if (extra.state) {
    const entries = Object.entries(extra.state);
    items.push({
      key: 'state',
      value: () =>
        p.dict(
          entries.map(([k, v]) => ({
            key: k,
            value: () => {
              if (typeof v === 'string') p.str(v);
              else if (typeof v === 'boolean') p.bool(v);
              else if (Number.isSafeInteger(v)) p.int(v);
              else p.float(v);
            },
          })),
        ),
    });
  }
  p.dict(items);
}

/**
 * The value of a file's 'wmnn' key; null (and a warning) when its schema is newer than this
 * reader's. With `momentum` false the momentum buffers (half of a wmnn checkpoint) are checked to
 * be tensors but not read, and `momentum` is left out.
 */
export function decodeExtra(
  v: PyValue,
  materialize: TensorMaterializer,
  warnings: Findings,
  opts: { momentum: boolean },
): WmnnExtra | null {
  if (!(v instanceof PyDict)) throw new Error(`'${WMNN_KEY}' is ${typeName(v)}, not a dict`);
  const schema = asInt(v.get('schema') ?? null);
  if (schema === undefined) throw new Error(`'${WMNN_KEY}' has no schema number`);
  if (schema > WMNN_SCHEMA) {
    warnings.push(`'${WMNN_KEY}' has schema ${schema}, newer than this wmnn (${WMNN_SCHEMA}); its resume state is ignored`);
    return null;
  }
  const named = (field: string, read = true): [string, Tensor][] | undefined => {
    const d = v.get(field);
    if (d === undefined) return undefined;
    if (!(d instanceof PyDict)) throw new Error(`${WMNN_KEY}.${field} is ${typeName(d)}`);
    const out: [string, Tensor][] = [];
    for (const [k, t] of d.entries()) {
      const key = strKey(k, `${WMNN_KEY}.${field}`);
      if (!(t instanceof TensorRef)) throw new Error(`${WMNN_KEY}.${field}.${excerpt(key)} is ${typeName(t)}`);
      if (read) out.push([key, materialize.tensor(t, `${WMNN_KEY}.${field}.${key}`)]);
    }
    return read ? out : undefined;
  };
  const out: WmnnExtra = {};
  const momentum = named('momentum', opts.momentum);
  if (momentum) out.momentum = momentum;
  const tensors = named('tensors');
  if (tensors) out.tensors = tensors;
  const state = v.get('state');
  if (state !== undefined) {
    if (!(state instanceof PyDict)) throw new Error(`${WMNN_KEY}.state is ${typeName(state)}`);
    out.state = {};
    for (const [k, s] of state.entries()) {
      const key = strKey(k, `${WMNN_KEY}.state`);
      let val: WmnnScalar;
      if (typeof s === 'string' || typeof s === 'boolean') val = s;
      else if (s instanceof PyFloat) val = s.value;
      else if (asInt(s) !== undefined) val = asInt(s) as number;
      else throw new Error(`${WMNN_KEY}.state.${excerpt(key)} is ${typeName(s)}`);
      out.state[key] = val;
    }
  }
  return out;
}
