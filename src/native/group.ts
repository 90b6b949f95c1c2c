// The typed facade over the addon's ProcessGroup: this process's place in a data-parallel job
// (native/distributed.h). Joining blocks until every rank is there, or throws one line saying why not.
import { loadBinding, type RawProcessGroup, type RendezvousOptions } from './binding.js';

export type { RendezvousOptions } from './binding.js';

/** A process's rank in its job; a stand-alone run is rank 0 of 1. */
export interface Membership {
  rank: number;
  worldSize: number;
}

export const STANDALONE: Membership = { rank: 0, worldSize: 1 };

export class ProcessGroup implements Membership {
  /** For Model.joinGroup only. */
  readonly raw: RawProcessGroup;
  readonly rank: number;
  readonly worldSize: number;

  constructor(opts: RendezvousOptions) {
    this.raw = new (loadBinding().ProcessGroup)(opts);
    const d = this.raw.describe();
    this.rank = d.rank;
    this.worldSize = d.worldSize;
  }

  /** Rank 0's value, on every rank (each rank must make the same calls in the same order). */
  share(value: number): number {
    return this.raw.share(value);
  }
}
