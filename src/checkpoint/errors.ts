// The one error type of checkpoint reading: one line, starting with the file's base name, and
// safe to print whatever the file held (the parts taken from it are quoted where the message is
// built; this is the last guard).

import { safeLine } from '../quote.js';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(safeLine(message));
    this.name = 'CheckpointError';
  }
}

/** An error's message folded onto one line. */
export function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
}

/** How many warnings or problems one read keeps; the rest are counted. */
export const MAX_FINDINGS = 100;

/** Warnings or problems of one read: the first MAX_FINDINGS kept, the rest counted. */
export class Findings {
  readonly list: string[] = [];
  private dropped = 0;

  push(...lines: string[]): void {
    for (const line of lines) {
      if (this.list.length < MAX_FINDINGS) this.list.push(line);
      else this.dropped++;
    }
  }

  get count(): number {
    return this.list.length + this.dropped;
  }

  /** The kept lines, plus one that says how many were left out. */
  lines(): string[] {
    return this.dropped === 0 ? [...this.list] : [...this.list, `… and ${this.dropped} more`];
  }
}
