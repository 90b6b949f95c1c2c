// wmnn's own resume state, stored under one extra top-level key that the original scripts never
// read ('wmnn'), so a file carrying it still loads in PyTorch as the original expects:
//
//   'wmnn': {'schema': 1,
//            'momentum': OrderedDict(param name -> tensor),   # SGD momentum buffers
//            'rng': uint8 tensor,                             # generator state, opaque bytes
//            'tensors': OrderedDict(name -> tensor),          # any other named tensors
//            'state': {str: int | float | str | bool}}        # small scalars (lr, counters, ...)
//
// Every field but 'schema' is optional. A reader that meets a newer schema ignores the key.

import type { Tensor } from '../tensor.js';

export const WMNN_KEY = 'wmnn';
export const WMNN_SCHEMA = 1;

export type WmnnScalar = number | string | boolean;

export interface WmnnExtra {
  /** SGD momentum buffers by parameter name, in parameter order. */
  momentum?: [string, Tensor][];
  /** Random generator state as the engine exports it; stored as a uint8 tensor. */
  rng?: Uint8Array;
  /** Other named tensors (e.g. a layer kept aside). */
  tensors?: [string, Tensor][];
  /** Small scalars; numbers that are integers are stored as Python ints, others as floats. */
  state?: Record<string, WmnnScalar>;
}
