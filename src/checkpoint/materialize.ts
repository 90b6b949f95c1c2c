// Tensor references (a view of a storage, as the pickle describes it) turned into plain Tensors.
// Contiguous aligned views share the container's bytes; strided or unaligned ones are copied.
// Views may overlap (a stride-0 view of one float can claim 10^10 elements), so all the tensors
// of one read together may not cover more bytes than twice the storages hold, and the copies are
// charged to the read's memory budget.

import { excerpt } from '../quote.js';
import { ITEM_SIZE, numel, viewAs, type Tensor } from '../tensor.js';
import type { ReadBudget } from './budget.js';
import type { OpenedCheckpoint } from './container.js';
import { gatherStrided, isContiguous } from './strided.js';
import type { TensorRef } from './torch-objects.js';

/** Slack beyond twice the storages' bytes, for the small tensors a tiny file may need. */
const VIEW_SLACK_BYTES = 1 << 20;
/** Tensors may cover each storage this many times over (tied weights share one storage). */
const VIEW_FACTOR = 2;

export class TensorMaterializer {
  private viewBytesLeft: number;

  constructor(
    private readonly opened: OpenedCheckpoint,
    private readonly budget: ReadBudget,
  ) {
    let stored = 0;
    for (const s of opened.storages.values()) stored += s.numel * ITEM_SIZE[s.dtype];
    this.viewBytesLeft = VIEW_FACTOR * stored + VIEW_SLACK_BYTES;
  }

  /** The tensor `t` describes; `what` names it in errors. */
  tensor(t: TensorRef, what: string): Tensor {
    const s = t.storage;
    const size = ITEM_SIZE[s.dtype];
    const n = numel(t.size);
    this.viewBytesLeft -= n * size;
    if (this.viewBytesLeft < 0) throw new Error(`${excerpt(what)}: the tensors would cover more bytes than the file's storages hold`);
    const bytes = this.opened.storageBytes(s);
    let dense: Uint8Array;
    if (isContiguous(t.size, t.stride)) {
      dense = bytes.subarray(t.offset * size, (t.offset + n) * size);
      // viewAs copies what is not aligned to the element size (legacy files' storages are not).
      if (dense.byteOffset % size !== 0) this.budget.hold(dense.length, excerpt(what));
    } else {
      this.budget.hold(n * size, excerpt(what));
      this.budget.step(n);
      dense = gatherStrided(bytes, size, t.offset, t.size, t.stride);
    }
    return { dtype: s.dtype, shape: [...t.size], data: viewAs(s.dtype, dense) };
  }
}
