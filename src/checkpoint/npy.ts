// The .npy format (numpy.save / numpy.load): a magic string, a header that is a Python dict
// literal, then the raw array. The writer reproduces numpy's own header layout byte for byte;
// the reader parses the literal with a strict grammar (nothing is evaluated).

import { quote } from '../quote.js';
import { ITEM_SIZE, bytesOf, viewAs, type Tensor } from '../tensor.js';
import { NUMPY_TYPESTR, parseTypestr } from './numpy.js';
import { contiguousStrides, gatherStrided, safeNumel } from './strided.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
// numpy leaves room for the first axis to grow to this many digits when appending in place.
const GROWTH_AXIS_MAX_DIGITS = 21;

function descrOf(t: Tensor): string {
  const kind = NUMPY_TYPESTR[t.dtype];
  if (kind === undefined) throw new Error(`.npy cannot hold ${t.dtype}`);
  return `${ITEM_SIZE[t.dtype] === 1 ? '|' : '<'}${kind}`;
}

function shapeRepr(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

/** The .npy bytes of a tensor (format 1.0, C order, little-endian), as numpy.save writes them. */
export function writeNpy(t: Tensor): Uint8Array {
  const n = safeNumel(t.shape);
  if (n !== t.data.length) throw new Error(`tensor of shape ${shapeRepr(t.shape)} holds ${t.data.length} elements`);
  let header = `{'descr': '${descrOf(t)}', 'fortran_order': False, 'shape': ${shapeRepr(t.shape)}, }`;
  if (t.shape.length > 0) header += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(t.shape[0]).length));
  const hlen = header.length + 1;
  const pad = ALIGN - ((MAGIC.length + 2 + 2 + hlen) % ALIGN);
  const total = hlen + pad;
  if (total > 0xffff) throw new Error('.npy header too long');
  const data = bytesOf(t.data);
  const out = new Uint8Array(MAGIC.length + 4 + total + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = total & 0xff;
  out[9] = total >> 8;
  out.set(Buffer.from(header + ' '.repeat(pad) + '\n', 'latin1'), 10);
  out.set(data, 10 + total);
  return out;
}

/** Parse `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` (any key order). */
function parseHeader(h: string): { descr: string; fortran: boolean; shape: number[] } {
  const body = /^\{(.*)\}\s*$/s.exec(h.trim());
  if (!body) throw new Error('.npy header is not a dict');
  const entry = /\s*'(\w+)'\s*:\s*('(?:[^'\\]*)'|True|False|\((?:\s*\d+\s*,?)*\s*\))\s*(?:,|$)/y;
  const text = body[1] as string;
  const fields = new Map<string, string>();
  entry.lastIndex = 0;
  while (entry.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(entry.lastIndex))) break;
    const m = entry.exec(text);
    if (!m) throw new Error('.npy header is malformed');
    fields.set(m[1] as string, m[2] as string);
  }
  const descr = fields.get('descr');
  const fortran = fields.get('fortran_order');
  const shape = fields.get('shape');
  if (descr === undefined || fortran === undefined || shape === undefined || fields.size !== 3) {
    throw new Error(".npy header needs exactly 'descr', 'fortran_order' and 'shape'");
  }
  if (!descr.startsWith("'") || fortran.startsWith("'") || fortran.startsWith('(') || !shape.startsWith('(')) {
    throw new Error('.npy header has a field of the wrong type');
  }
  const dims = (shape.match(/\d+/g) ?? []).map(Number);
  return { descr: descr.slice(1, -1), fortran: fortran === 'True', shape: dims };
}

/** Read a .npy file into a dense C-contiguous tensor. */
export function readNpy(bytes: Uint8Array): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error('not a .npy file');
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start: number;
  let hlen: number;
  if (major === 1) {
    hlen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error('.npy file truncated in its header');
    hlen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new Error(`.npy format version ${major} is not supported`);
  }
  if (start + hlen > bytes.length) throw new Error('.npy file truncated in its header');
  const header = Buffer.from(bytes.buffer, bytes.byteOffset + start, hlen).toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortran, shape } = parseHeader(header);
  const { dtype, bigEndian } = parseTypestr(descr);
  if (bigEndian) throw new Error(`.npy big-endian data (${quote(descr)}) is not supported`);
  const size = ITEM_SIZE[dtype];
  const n = safeNumel(shape);
  const body = bytes.subarray(start + hlen);
  if (n * size !== body.length) throw new Error(`.npy data is ${body.length} bytes; shape ${shapeRepr(shape)} ${dtype} needs ${n * size}`);
  const dense = fortran && shape.length > 1 ? gatherStrided(body, size, 0, shape, contiguousStrides([...shape].reverse()).reverse()) : body;
  return { dtype, shape, data: viewAs(dtype, dense) };
}
