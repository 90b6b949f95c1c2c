// Reading a checkpoint file into memory: regular files only, never blocking, bounded in size.
//
// The file is opened non-blocking and checked with fstat on the open descriptor, so a FIFO, a
// device or a folder given as a checkpoint is refused at once (a blocking open of a FIFO would
// wait forever for a writer), and nothing can swap the file between the check and the read.

import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { ReadBudget } from './budget.js';

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** `ENOENT: no such file or directory, open '…'` without the path, which the caller puts first. */
function openFailure(e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? String(e));
  return new Error(`cannot open: ${why}`);
}

/**
 * The whole file, held under `budget` (refused when it is larger than the budget's file limit).
 * Errors do not name the file; the caller prefixes its name.
 */
export function readRegularFile(path: string, budget: ReadBudget): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw openFailure(e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${kindOf(st)}, not a checkpoint file`);
    const max = budget.limits.fileBytes;
    if (st.size > max) throw new Error(`file is ${st.size} bytes; checkpoints are read up to ${max} bytes`);
    budget.hold(st.size, 'the file');
    const buf = new Uint8Array(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) throw new Error('file shrank while being read');
      got += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}
