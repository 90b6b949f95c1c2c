// Builders for hostile checkpoint files, in TypeScript so that they cost no Python start and can
// say things torch's writer never would: zip records whose sizes lie, deflate streams of gigabytes
// in a few megabytes, pickles that name shared sub-objects millions of times.
import { crc32, constants, deflateRawSync } from 'node:zlib';

/** Pickle bytes: strings as latin1, numbers as single bytes. */
export function pk(...parts: (string | number[] | Uint8Array)[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));
}

/** BINUNICODE of `s` (UTF-8). */
export function str(s: string): Uint8Array {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return pk('X', len, b);
}

/** `n` copies of `unit`, as one buffer. */
export function repeat(unit: Uint8Array | string, n: number): Uint8Array {
  const u = typeof unit === 'string' ? Buffer.from(unit, 'latin1') : Buffer.from(unit);
  const out = Buffer.allocUnsafe(u.length * n);
  for (let i = 0; i < n; i++) u.copy(out, i * u.length);
  return new Uint8Array(out);
}

export function u32(n: number): Uint8Array {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return new Uint8Array(b);
}

/**
 * A contiguous tensor of shape `size` (0-dim by default) over float32 storage `key` of `numel`
 * elements tagged `location`, as torch pickles it: `_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`.
 */
export function tensorPickle(key: string, location: string, numel = 1, size: number[] = []): Uint8Array {
  const ints = (xs: number[]): Uint8Array => pk('(', ...xs.map((x) => pk('J', Buffer.from(Int32Array.of(x).buffer))), 't');
  const stride = size.map((_, i) => size.slice(i + 1).reduce((a, d) => a * d, 1));
  return pk(
    'ctorch._utils\n_rebuild_tensor_v2\n(',
    '(',
    str('storage'),
    'ctorch\nFloatStorage\n',
    str(key),
    str(location),
    'J',
    Buffer.from(Int32Array.of(numel).buffer),
    'tQK\x00',
    ints(size),
    ints(stride),
    '\x89ccollections\nOrderedDict\n)Rt',
    'R',
  );
}

/**
 * `total` zero bytes as a raw deflate stream of about total/1000 bytes: one compressed 1 MiB
 * segment, full-flushed so that it refers to nothing before it, repeated, then an empty final
 * block. No gigabyte is ever allocated to build it.
 */
export function zerosDeflated(total: number): Uint8Array {
  const chunk = 1 << 20;
  if (total % chunk !== 0) throw new Error('whole MiB only');
  const segment = deflateRawSync(Buffer.alloc(chunk), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  return new Uint8Array(Buffer.concat([repeat(segment, total / chunk), Buffer.from([0x03, 0x00])]));
}

export interface RawRecord {
  name: string;
  /** The bytes as stored in the archive (already deflated when `method` is 8). */
  data: Uint8Array;
  method?: 0 | 8;
  /** The uncompressed size the central directory declares (default: data's length). */
  size?: number;
  /** Default: the CRC of `data` for stored records, 0 ("not computed") for deflated ones. */
  crc?: number;
}

/** A plain zip (no zip64, no descriptors) that says whatever the records say. */
export function rawZip(records: readonly RawRecord[]): Uint8Array {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const r of records) {
    const name = Buffer.from(r.name, 'utf8');
    const method = r.method ?? 0;
    const size = r.size ?? r.data.length;
    const crc = r.crc ?? (method === 0 ? crc32(r.data) : 0);
    const at = offset;
    {
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(0x0800, 6);
      local.writeUInt16LE(method, 8);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(r.data.length, 18);
      local.writeUInt32LE(size, 22);
      local.writeUInt16LE(name.length, 26);
      chunks.push(local, name, Buffer.from(r.data));
      offset += 30 + name.length + r.data.length;
    }
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(r.data.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(at, 42);
    central.push(cd, name);
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(records.length, 8);
  eocd.writeUInt16LE(records.length, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...chunks, ...central, eocd]));
}

/** A torch-style archive `ckpt/` around `pkl`, with `version` and any further records. */
export function checkpointZip(pkl: Uint8Array | RawRecord, more: readonly RawRecord[] = []): Uint8Array {
  const data = pkl instanceof Uint8Array ? { name: 'ckpt/data.pkl', data: pkl } : pkl;
  return rawZip([data, ...more, { name: 'ckpt/version', data: pk('3\n') }]);
}

/** `{'net': value}`, the shape of a checkpoint, around the pickle bytes of one value. */
export function netPickle(value: Uint8Array): Uint8Array {
  return pk('\x80\x02}', str('net'), value, 's.');
}

/**
 * A tuple DAG `levels` deep: each level a 2-tuple of two references to the level below, through
 * the memo. A few bytes per level; hashing it by value would visit 2^levels leaves.
 */
export function tupleDag(levels: number): Uint8Array {
  const parts: Uint8Array[] = [pk('N')];
  for (let i = 0; i < levels; i++) parts.push(pk('r', u32(i), 'j', u32(i), '\x86'));
  return pk(...parts);
}

/**
 * A zip of `n` stored records nested like a Russian doll: each record's data holds the next
 * record's local header and everything after it, down to one `kernel` at the end. Reading every
 * record would check the kernel `n` times over.
 */
export function nestedZip(n: number, kernel: Uint8Array): Uint8Array {
  const names = Array.from({ length: n }, (_, i) => Buffer.from(`ckpt/data/${i}`, 'utf8'));
  let blob = Buffer.from(kernel);
  const sizes: number[] = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    const name = names[i] as Buffer;
    sizes[i] = blob.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(blob.length, 18);
    local.writeUInt32LE(blob.length, 22);
    local.writeUInt16LE(name.length, 26);
    blob = Buffer.concat([local, name, blob]);
  }
  const central: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const name = names[i] as Buffer;
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(sizes[i] as number, 20);
    cd.writeUInt32LE(sizes[i] as number, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += 30 + name.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(n, 8);
  eocd.writeUInt16LE(n, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(blob.length, 16);
  return new Uint8Array(Buffer.concat([blob, ...central, eocd]));
}
