// Reading a checkpoint file into memory, bounded by a size limit.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The whole file; refused when it is larger than `maxBytes`. */
export function readBounded(path: string, maxBytes: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw new Error(`file is ${size} bytes; the limit is ${maxBytes}`);
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) throw new Error('file shrank while being read');
      got += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}
