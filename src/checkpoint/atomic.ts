// Writing a file so that readers see either the old content or the complete new one: a temporary
// file in the same folder, written and fsynced, then renamed over the destination. On any error
// the temporary file is removed and the destination is left as it was.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { makeDirs } from '../output-dirs.js';

export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const dir = dirname(path);
  makeDirs(dir); // checked by the command before its work; made only now, with the first file
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | null = openSync(tmp, 'wx');
  try {
    for (const c of chunks) {
      for (let off = 0; off < c.length;) off += writeSync(fd, c, off, c.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone (or never created); the original error is the one to report.
    }
    throw e;
  }
  syncDir(dir);
}

/** Make the rename itself durable; not every platform lets a folder be fsynced, which is fine. */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort only.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
