// Tensor references (a view of a storage, as the pickle describes it) turned into plain Tensors.
// Contiguous aligned views share the container's bytes; strided or unaligned ones are copied, and
// the copies together may not need more than the file holds.

import { ITEM_SIZE, numel, viewAs, type Tensor } from '../tensor.js';
import type { OpenedCheckpoint } from './container.js';
import { gatherStrided, isContiguous } from './strided.js';
import type { TensorRef } from './torch-objects.js';

/** Slack beyond twice the file size, for the small copies a tiny file may need. */
const COPY_SLACK_BYTES = 1 << 20;

export class TensorMaterializer {
  private copyBudget: number;

  constructor(private readonly opened: OpenedCheckpoint, fileSize: number) {
    this.copyBudget = 2 * fileSize + COPY_SLACK_BYTES;
  }

  /** The tensor `t` describes; `what` names it in errors. */
  tensor(t: TensorRef, what: string): Tensor {
    const s = t.storage;
    const size = ITEM_SIZE[s.dtype];
    const bytes = this.opened.storageBytes(s);
    const n = numel(t.size);
    let dense: Uint8Array;
    if (isContiguous(t.size, t.stride)) {
      dense = bytes.subarray(t.offset * size, (t.offset + n) * size);
      if (dense.byteOffset % size !== 0) this.spend(dense.length, what);
    } else {
      this.spend(n * size, what);
      dense = gatherStrided(bytes, size, t.offset, t.size, t.stride);
    }
    return { dtype: s.dtype, shape: [...t.size], data: viewAs(s.dtype, dense) };
  }

  private spend(n: number, what: string): void {
    this.copyBudget -= n;
    if (this.copyBudget < 0) throw new Error(`${what}: tensors would need more memory than the file holds`);
  }
}
