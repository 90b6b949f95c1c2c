// How a global batch is split over the ranks of a data-parallel job: rank r takes the r-th of
// `worldSize` contiguous parts, whose sizes differ by at most one. Every rank makes every step,
// so a part may be empty when the batch has fewer images than there are ranks.
import type { Membership } from '../native/group.js';

export interface Range {
  start: number;
  count: number;
}

export function shardOf(range: Range, m: Membership): Range {
  const from = Math.floor((m.rank * range.count) / m.worldSize);
  const to = Math.floor(((m.rank + 1) * range.count) / m.worldSize);
  return { start: range.start + from, count: to - from };
}
