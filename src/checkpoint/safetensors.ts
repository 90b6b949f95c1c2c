// safetensors: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the raw
// little-endian tensor bytes back to back. Nothing in it can run code.

import { quote } from '../quote.js';
import { ITEM_SIZE, bytesOf, numel, viewAs, type DType, type Tensor } from '../tensor.js';
import { writeFileAtomic } from './atomic.js';
import { ReadBudget } from './budget.js';

const CODES: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const DTYPES = new Map(Object.entries(CODES).map(([d, c]) => [c, d as DType]));

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** The bytes of a safetensors file, tensors laid out in the given order. */
export function encodeSafetensors(
  tensors: Iterable<readonly [string, Tensor]>,
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__' || Object.hasOwn(header, name)) throw new Error(`tensor name ${quote(name)} is not allowed or repeated`);
    if (numel(t.shape) !== t.data.length) throw new Error(`tensor ${quote(name)} does not hold its shape's elements`);
    const data = bytesOf(t.data);
    header[name] = { dtype: CODES[t.dtype], shape: t.shape, data_offsets: [offset, offset + data.length] };
    blobs.push(data);
    offset += data.length;
  }
  let json = JSON.stringify(header);
  // The format pads the header with spaces so that the data starts 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return [head, Buffer.from(json, 'utf8'), ...blobs];
}

export function writeSafetensors(path: string, tensors: Iterable<readonly [string, Tensor]>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * The longest JSON header read. A ResNet-18's is about 12 kB; the format itself allows 100 MB,
 * which JSON.parse would turn into gigabytes of objects.
 */
const MAX_HEADER_BYTES = 16 << 20;

/** Whether `bytes` look like a safetensors file: a header length that fits, then a JSON object. */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10 || bytes[8] !== 0x7b) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.length - 8);
}

/**
 * Parse a safetensors file, checking every offset against the data before using it. Entries are
 * counted against `budget` (a checkpoint read's), so a header of millions of names ends early.
 */
export function readSafetensors(bytes: Uint8Array, budget = new ReadBudget()): SafetensorsFile {
  if (bytes.length < 8) throw new Error('safetensors: file shorter than its header length');
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw new Error('safetensors: header runs past the end of the file');
  if (n > BigInt(MAX_HEADER_BYTES)) throw new Error(`safetensors: header of ${n} bytes; headers are read up to ${MAX_HEADER_BYTES} bytes`);
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLen).toString('utf8'));
  } catch {
    throw new Error('safetensors: header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('safetensors: header is not an object');
  const data = bytes.subarray(8 + headerLen);
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  const spans: [number, number][] = [];
  const entries = Object.entries(header);
  budget.build(entries.length);
  for (const [name, v] of entries) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || !Object.values(v).every((x) => typeof x === 'string')) {
        throw new Error('safetensors: __metadata__ is not a map of strings');
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e.dtype === 'string' ? DTYPES.get(e.dtype) : undefined;
    const shape = e.shape;
    const offs = e.data_offsets;
    if (
      dtype === undefined ||
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((d) => Number.isSafeInteger(d))
    ) {
      throw new Error(`safetensors: entry ${quote(name)} is malformed`);
    }
    const [begin, end] = offs as [number, number];
    const dims = shape as number[];
    if (begin < 0 || end < begin || end > data.length || end - begin !== numel(dims) * ITEM_SIZE[dtype]) {
      throw new Error(`safetensors: entry ${quote(name)} has offsets outside the data or of the wrong size`);
    }
    spans.push([begin, end]);
    tensors.set(name, { dtype, shape: dims, data: viewAs(dtype, data.subarray(begin, end)) });
  }
  // The format requires the tensors to cover the data exactly, without overlap.
  spans.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [b, e] of spans) {
    if (b !== at) throw new Error('safetensors: tensor data overlaps or leaves gaps');
    at = e;
  }
  if (at !== data.length) throw new Error('safetensors: data has trailing bytes');
  return { tensors, metadata };
}
