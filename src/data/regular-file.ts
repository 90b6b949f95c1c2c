// Input files (images, labels files, dataset files) are read only when they are regular files.
// Reading a FIFO blocks until a writer comes, forever if none does; a device such as /dev/zero
// never ends. The file is opened non-blocking (which returns at once even on a FIFO) and
// checked on the open descriptor, so nothing can be swapped in between the check and the read.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';

function kind(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a plain file';
}

/**
 * The file opened for reading, once it is known to be a regular file; otherwise the handle is
 * closed and `is a FIFO, not a regular file` (and the like) thrown. fs errors are thrown as they are.
 */
export async function openRegularFile(path: string): Promise<FileHandle> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error(`is ${kind(stats)}, not a regular file`);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The file's bytes; throws as openRegularFile does. */
export async function readRegularFile(path: string): Promise<Buffer> {
  const handle = await openRegularFile(path);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
