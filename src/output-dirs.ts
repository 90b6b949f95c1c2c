// Output folders: checked before any work starts, created only when the first file is written.
// Both walk the path one component at a time rather than through `mkdirSync(recursive)`, which on
// Node 20 spins forever under paths such as /proc/x.
import { accessSync, constants, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The folder itself when it exists, else its nearest existing ancestor, with the folders to make below it. */
function existingAncestor(dir: string): { existing: string; missing: string[] } {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    try {
      statSync(at);
      return { existing: at, missing };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const up = dirname(at);
    if (up === at) return { existing: at, missing }; // the root always exists; unreachable in practice
    missing.unshift(at);
    at = up;
  }
}

/**
 * Why files cannot be written into `dir` (made if missing), or null when they can: `dir`, or the
 * nearest ancestor that exists, must be a folder this process may write to. Nothing is left created.
 */
export function cannotWriteInto(dir: string): string | null {
  try {
    const { existing, missing } = existingAncestor(dir);
    if (!statSync(existing).isDirectory()) return missing.length === 0 ? 'not a folder' : `${existing} is not a folder`;
    accessSync(existing, constants.W_OK);
    // Permission bits are not the whole story (root may "write" /proc, where mkdir fails): make
    // the first missing folder and remove it again.
    const probe = missing[0];
    if (probe !== undefined) {
      mkdirSync(probe);
      rmdirSync(probe);
    }
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
  }
}

/** Creates `dir` and its missing ancestors, one at a time. */
export function makeDirs(dir: string): void {
  for (const d of existingAncestor(dir).missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // made meanwhile by another process
    }
  }
}
