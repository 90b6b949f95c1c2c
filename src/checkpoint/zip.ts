// ZIP archives as PyTorch uses them: a reader (central directory, zip64, stored and deflated
// records, CRC checks) and a writer that reproduces the byte layout torch 1.13 (miniz) writes
// (docs/checkpoint-format.md §4.2): 64-byte aligned data behind an "FB" padding field, data
// descriptors, and a zip64 trailer.

import { crc32, inflateRawSync } from 'node:zlib';
import { quote } from '../quote.js';
import { ReadBudget } from './budget.js';

export class ZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  /** Where the (possibly compressed) data starts: after the local header, name and local extra. */
  dataOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_DESCRIPTOR = 0x08074b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const U32_MAX = 0xffffffff;

/** The most records a zip without zip64 can count; a ResNet-18 checkpoint has 110. */
const MAX_RECORDS = 0xffff;
/** zlib's smallest output chunk. */
const MIN_CHUNK = 64;

export interface ZipReadOptions {
  /** What inflating may hold, and what the directory costs; a fresh default budget when absent. */
  budget?: ReadBudget;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A parsed archive over the file's bytes; records are sliced (stored) or inflated on demand. */
export class ZipArchive {
  readonly entries: ZipEntry[] = [];
  private readonly byName = new Map<string, ZipEntry>();
  private readonly view: DataView;
  private readonly budget: ReadBudget;

  constructor(
    private readonly bytes: Uint8Array,
    opts: ZipReadOptions = {},
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.budget = opts.budget ?? new ReadBudget();
    this.parse();
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * The record's bytes; stored records are views into the file (no copy). A deflated record is
   * inflated into exactly the size the central directory declares, once that size has been
   * charged to the budget, so neither a lying size nor a huge true one costs more than allowed.
   */
  read(name: string): Uint8Array {
    const e = this.byName.get(name);
    if (e === undefined) throw new ZipError(`no record ${quote(name)}`);
    let data: Uint8Array;
    const raw = this.bytes.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    if (e.method === 0) {
      if (e.compressedSize !== e.size) throw new ZipError(`stored record ${quote(name)} has sizes ${e.compressedSize} and ${e.size}`);
      data = raw;
    } else if (e.method === 8) {
      const left = this.budget.limits.heldBytes - this.budget.held;
      if (e.size > left) {
        throw new ZipError(`record ${quote(name)} would inflate to ${e.size} bytes; the read's memory budget leaves ${left}`);
      }
      this.budget.hold(e.size, `record ${quote(name)}`);
      try {
        // One output chunk of the declared size: no growth, no final concatenation (which would double the peak).
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size), chunkSize: Math.max(MIN_CHUNK, e.size + 1) });
      } catch (err) {
        throw new ZipError(`record ${quote(name)} does not inflate (${err instanceof Error ? err.message : String(err)})`);
      }
      if (data.length !== e.size) throw new ZipError(`record ${quote(name)} inflates to ${data.length} bytes, not ${e.size}`);
    } else {
      throw new ZipError(`unsupported compression method ${e.method} for ${quote(name)}`);
    }
    // A CRC of 0 means "not computed" (torch can be told to skip it); otherwise it must match.
    if (e.crc32 !== 0 && crc32(data) !== e.crc32) throw new ZipError(`CRC mismatch in ${quote(name)}`);
    return data;
  }

  private u16(o: number): number {
    return this.view.getUint16(o, true);
  }

  private u32(o: number): number {
    return this.view.getUint32(o, true);
  }

  private u64(o: number): number {
    const v = this.view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError('zip64 field out of range');
    return Number(v);
  }

  private findEocd(): number {
    const len = this.bytes.length;
    const stop = Math.max(0, len - EOCD_SIZE - MAX_COMMENT);
    for (let p = len - EOCD_SIZE; p >= stop; p--) {
      if (this.u32(p) === SIG_EOCD && p + EOCD_SIZE + this.u16(p + 20) <= len) return p;
    }
    throw new ZipError('truncated: zip end-of-central-directory record not found');
  }

  private parse(): void {
    const len = this.bytes.length;
    const eocd = this.findEocd();
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    let cdLimit = eocd;
    if (eocd >= 20 && this.u32(eocd - 20) === SIG_ZIP64_LOCATOR) {
      const z = this.u64(eocd - 20 + 8);
      if (z + 56 > eocd - 20 || this.u32(z) !== SIG_ZIP64_EOCD) throw new ZipError('zip64 end-of-central-directory record is missing');
      count = this.u64(z + 32);
      cdSize = this.u64(z + 40);
      cdOffset = this.u64(z + 48);
      cdLimit = z;
    }
    if (cdOffset + cdSize > cdLimit) throw new ZipError('central directory lies outside the file');
    if (count * 46 > cdSize) throw new ZipError(`central directory of ${cdSize} bytes cannot hold ${count} entries`);
    if (count > MAX_RECORDS) throw new ZipError(`archive has ${count} records; checkpoints have a few hundred (limit ${MAX_RECORDS})`);
    let p = cdOffset;
    const cdEnd = cdOffset + cdSize;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdEnd || this.u32(p) !== SIG_CENTRAL) throw new ZipError(`central directory entry ${i} is malformed`);
      const flags = this.u16(p + 8);
      const method = this.u16(p + 10);
      const crc = this.u32(p + 16);
      let compressedSize = this.u32(p + 20);
      let size = this.u32(p + 24);
      const nameLen = this.u16(p + 28);
      const extraLen = this.u16(p + 30);
      const commentLen = this.u16(p + 32);
      let localOffset = this.u32(p + 42);
      const nameEnd = p + 46 + nameLen;
      if (nameEnd + extraLen + commentLen > cdEnd) throw new ZipError(`central directory entry ${i} is malformed`);
      const nameBytes = this.bytes.subarray(p + 46, nameEnd);
      let name: string;
      try {
        name = utf8.decode(nameBytes);
      } catch {
        name = Buffer.from(nameBytes).toString('latin1');
      }
      // zip64 extra field: the 0xFFFFFFFF fields, in this order.
      for (let x = nameEnd; x + 4 <= nameEnd + extraLen;) {
        const id = this.u16(x);
        const n = this.u16(x + 2);
        if (x + 4 + n > nameEnd + extraLen) throw new ZipError(`extra field of ${quote(name)} is malformed`);
        if (id === 0x0001) {
          let q = x + 4;
          const next = (): number => {
            if (q + 8 > x + 4 + n) throw new ZipError(`zip64 field of ${quote(name)} is short`);
            const v = this.u64(q);
            q += 8;
            return v;
          };
          if (size === U32_MAX) size = next();
          if (compressedSize === U32_MAX) compressedSize = next();
          if (localOffset === U32_MAX) localOffset = next();
        }
        x += 4 + n;
      }
      if ((flags & 1) !== 0) throw new ZipError(`record ${quote(name)} is encrypted`);
      if (localOffset + 30 > cdOffset || this.u32(localOffset) !== SIG_LOCAL)
        throw new ZipError(`local header of ${quote(name)} is missing`);
      const localNameLen = this.u16(localOffset + 26);
      const localExtraLen = this.u16(localOffset + 28);
      const dataOffset = localOffset + 30 + localNameLen + localExtraLen;
      if (localNameLen !== nameLen || !sameBytes(this.bytes.subarray(localOffset + 30, localOffset + 30 + localNameLen), nameBytes)) {
        throw new ZipError(`local header of ${quote(name)} names another record`);
      }
      if (dataOffset + compressedSize > cdOffset || dataOffset + compressedSize > len) {
        throw new ZipError(`truncated: record ${quote(name)} runs past the end of the data`);
      }
      if (this.byName.has(name)) throw new ZipError(`record ${quote(name)} appears twice`);
      this.budget.build(1);
      const e: ZipEntry = { name, method, flags, crc32: crc, compressedSize, size, localOffset, dataOffset };
      this.entries.push(e);
      this.byName.set(name, e);
      p = nameEnd + extraLen + commentLen;
    }
    this.checkNoOverlap();
  }

  /**
   * Records may not share bytes. torch never writes overlapping records; a directory whose entries
   * all point at one large record would make every read check (and inflate) the same data again.
   */
  private checkNoOverlap(): void {
    const spans = this.entries.map((e) => [e.localOffset, e.dataOffset + e.compressedSize, e] as const).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) {
      const [start, , e] = spans[i] as (typeof spans)[number];
      const [, prevEnd, prev] = spans[i - 1] as (typeof spans)[number];
      if (start < prevEnd) throw new ZipError(`records ${quote(prev.name)} and ${quote(e.name)} overlap`);
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function readZip(bytes: Uint8Array, opts?: ZipReadOptions): ZipArchive {
  return new ZipArchive(bytes, opts);
}

export interface ZipRecord {
  name: string;
  data: Uint8Array;
}

const ALIGN = 64;

/**
 * Lay out records exactly as torch 1.13's writer does (docs/checkpoint-format.md §4.2). Returns the file as a list of
 * chunks (record data is referenced, not copied), to be written in order.
 */
export function torchZipChunks(records: readonly ZipRecord[]): { chunks: Uint8Array[]; size: number } {
  if (records.length > 0xffff) throw new ZipError('more than 65535 records are not supported');
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const r of records) {
    if (names.has(r.name)) throw new ZipError(`record ${quote(r.name)} written twice`);
    names.add(r.name);
    const name = Buffer.from(r.name, 'utf8');
    const pad = (ALIGN - ((offset + 30 + name.length + 4) % ALIGN)) % ALIGN;
    const crc = crc32(r.data);
    const size = r.data.length;
    const local = Buffer.alloc(30 + name.length + 4 + pad, 0x5a);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(0, 4); // version needed
    local.writeUInt16LE(0x0808, 6); // sizes in the descriptor; UTF-8 name
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0, 10); // time, date
    local.writeUInt32LE(0, 14); // CRC (in the descriptor)
    local.writeUInt32LE(0, 18);
    local.writeUInt32LE(0, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(4 + pad, 28);
    name.copy(local, 30);
    local.writeUInt16LE(0x4246, 30 + name.length); // "FB"
    local.writeUInt16LE(pad, 32 + name.length);
    const desc = Buffer.alloc(16);
    desc.writeUInt32LE(SIG_DESCRIPTOR, 0);
    desc.writeUInt32LE(crc, 4);
    desc.writeUInt32LE(size, 8);
    desc.writeUInt32LE(size, 12);
    const cd = Buffer.alloc(46 + name.length);
    cd.writeUInt32LE(SIG_CENTRAL, 0);
    cd.writeUInt16LE(0, 4); // version made by
    cd.writeUInt16LE(0, 6); // version needed
    cd.writeUInt16LE(0x0808, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt32LE(0, 12);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(size, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    name.copy(cd, 46);
    central.push(cd);
    chunks.push(local, r.data, desc);
    offset += local.length + size + desc.length;
    if (offset >= U32_MAX) throw new ZipError('archives of 4 GiB or more are not supported');
  }
  const cdOffset = offset;
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  chunks.push(...central);
  const zip64 = Buffer.alloc(56 + 20 + EOCD_SIZE);
  const z = 0;
  zip64.writeUInt32LE(SIG_ZIP64_EOCD, z);
  zip64.writeBigUInt64LE(44n, z + 4);
  zip64.writeUInt16LE(0x031e, z + 12);
  zip64.writeUInt16LE(45, z + 14);
  zip64.writeBigUInt64LE(BigInt(records.length), z + 24);
  zip64.writeBigUInt64LE(BigInt(records.length), z + 32);
  zip64.writeBigUInt64LE(BigInt(cdSize), z + 40);
  zip64.writeBigUInt64LE(BigInt(cdOffset), z + 48);
  const l = 56;
  zip64.writeUInt32LE(SIG_ZIP64_LOCATOR, l);
  zip64.writeBigUInt64LE(BigInt(cdOffset + cdSize), l + 8);
  zip64.writeUInt32LE(1, l + 16);
  const e = l + 20;
  zip64.writeUInt32LE(SIG_EOCD, e);
  zip64.writeUInt16LE(records.length, e + 8);
  zip64.writeUInt16LE(records.length, e + 10);
  zip64.writeUInt32LE(cdSize, e + 12);
  zip64.writeUInt32LE(cdOffset, e + 16);
  chunks.push(zip64);
  return { chunks, size: cdOffset + cdSize + zip64.length };
}
