// Writing a file so that readers see either the old content or the complete new one: a temporary
// file in the same folder, written and fsynced, then renamed over the destination. On any error
// the temporary file is removed, the destination is left as it was, and the error names the
// destination (never the temporary file). A process killed mid-write cannot remove its temporary
// file, so every write first removes the temporary files of processes that no longer exist.

import { closeSync, fsyncSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { makeDirs } from '../output-dirs.js';

/** `.<name>.<pid>.<8 hex>.tmp`: the temporary files this module makes. */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** A failed write, naming the file that was to be written. `code` is the system error's, when there is one. */
export class WriteError extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    reason: string,
  ) {
    super(`cannot write ${path}: ${reason}${code ? ` (${code})` : ''}`);
    this.name = 'WriteError';
  }
}

const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'its folder does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  EEXIST: 'a temporary file of that name exists',
};

function writeError(path: string, e: unknown): WriteError {
  if (e instanceof WriteError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const reason = (code !== undefined ? REASONS[code] : undefined) ?? (e instanceof Error ? e.message : String(e));
  return new WriteError(path, code, reason);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove the temporary files that killed writers left in `dir`; those of live processes stay. */
export function removeStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // the write itself will report the folder
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processExists(pid)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // Gone already, or not ours to remove: either way nothing to report.
    }
  }
}

export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const dir = dirname(path);
  makeDirs(dir); // checked by the command before its work; made only now, with the first file
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let isFolder = false;
  try {
    isFolder = statSync(path).isDirectory();
  } catch {
    // Usually: it does not exist yet.
  }
  // Found before anything is written, rather than when the rename fails after the whole file.
  if (isFolder) throw new WriteError(path, 'EISDIR', REASONS.EISDIR as string);
  removeStaleTemps(dir);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx');
    for (const c of chunks) {
      for (let off = 0; off < c.length;) off += writeSync(fd, c, off, c.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    for (const cleanup of [() => fd !== null && closeSync(fd), () => unlinkSync(tmp)]) {
      try {
        cleanup();
      } catch {
        // Already closed or gone (or never created); the original error is the one to report.
      }
    }
    throw writeError(path, e);
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
