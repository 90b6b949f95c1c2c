// PBM/PGM/PPM (P1-P6) decoding with PIL 9's rules, converted to RGB as Image.convert('RGB') does.
// jimp has no PNM reader, and the trigger-set extension list includes .ppm and .pgm.
import type { RgbImage } from './image.js';
import { roundHalfEven } from './pyround.js';

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const HASH = 0x23;
const MAX_TOKEN = 10;

export function isPnm(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x50 && bytes[1]! >= 0x31 && bytes[1]! <= 0x36;
}

/** PIL's header tokenizer: whitespace-separated, '#' comments to the end of the line. */
class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  private skipComment(): void {
    while (this.pos < this.bytes.length) {
      const c = this.bytes[this.pos++]!;
      if (c === 0x0a || c === 0x0d) return;
    }
  }

  /** One token; like PIL, it consumes the single whitespace byte that ends it. */
  token(): string {
    let token = '';
    while (token.length <= MAX_TOKEN && this.pos < this.bytes.length) {
      const c = this.bytes[this.pos++]!;
      if (WHITESPACE.has(c)) {
        if (token.length === 0) continue;
        break;
      }
      if (c === HASH) {
        this.skipComment();
        continue;
      }
      token += String.fromCharCode(c);
    }
    if (token.length === 0) throw new Error('PNM: reached the end of the file while reading the header');
    if (token.length > MAX_TOKEN) throw new Error(`PNM: token too long in the header: ${token}`);
    return token;
  }

  integer(what: string): number {
    const token = this.token();
    if (!/^[+-]?\d+$/.test(token)) throw new Error(`PNM: ${what} is not an integer: ${token}`);
    return Number.parseInt(token, 10);
  }
}

type Mode = '1' | 'L' | 'I' | 'RGB';

/** Decodes a P1-P6 file to RGB; 16-bit greys are clipped at 255 exactly as PIL's "I" -> "RGB" does. */
export function decodePnm(bytes: Uint8Array): RgbImage {
  const reader = new Reader(bytes);
  const kind = bytes[1]! - 0x30;
  reader.pos = 2;
  if (reader.pos < bytes.length && !WHITESPACE.has(bytes[reader.pos]!)) {
    throw new Error('PNM: unsupported magic number');
  }
  const width = reader.integer('width');
  const height = reader.integer('height');
  if (width <= 0 || height <= 0) throw new Error(`PNM: bad size ${width}x${height}`);
  const bitmap = kind === 1 || kind === 4;
  let maxval = 1;
  let mode: Mode = bitmap ? '1' : kind === 2 || kind === 5 ? 'L' : 'RGB';
  if (!bitmap) {
    maxval = reader.integer('maxval');
    if (!(maxval > 0 && maxval < 65536)) throw new Error('PNM: maxval must be greater than 0 and less than 65536');
    if (maxval > 255 && mode === 'L') mode = 'I';
  }
  const bands = mode === 'RGB' ? 3 : 1;
  const count = width * height * bands;
  const values = kind <= 3 ? plainValues(reader, kind, count, maxval, mode) : rawValues(reader, kind, width, height, count, maxval, mode);
  return toRgb(values, width, height, bands);
}

/** P4 (bits, 1 = black), P5/P6 (one or two big-endian bytes per sample). */
function rawValues(reader: Reader, kind: number, width: number, height: number, count: number, maxval: number, mode: Mode): Uint32Array {
  const { bytes } = reader;
  const out = new Uint32Array(count);
  if (kind === 4) {
    const stride = Math.ceil(width / 8);
    if (reader.pos + stride * height > bytes.length) throw new Error('PNM: image file is truncated');
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const byte = bytes[reader.pos + y * stride + (x >> 3)]!;
        out[y * width + x] = byte & (0x80 >> (x & 7)) ? 0 : 255;
      }
    }
    return out;
  }
  const wide = maxval > 255;
  const size = wide ? 2 : 1;
  if (reader.pos + count * size > bytes.length) throw new Error('PNM: image file is truncated');
  const outMax = mode === 'I' ? 65535 : 255;
  for (let i = 0; i < count; i++) {
    const p = reader.pos + i * size;
    const value = wide ? (bytes[p]! << 8) | bytes[p + 1]! : bytes[p]!;
    // PIL copies 255- and (grey) 65535-maxval samples as they are and rescales the others.
    out[i] = maxval === outMax ? value : Math.min(outMax, roundHalfEven((value / maxval) * outMax));
  }
  return out;
}

/** P1 (characters '0'/'1', no separators needed), P2/P3 (decimal samples). */
function plainValues(reader: Reader, kind: number, count: number, maxval: number, mode: Mode): Uint32Array {
  const out = new Uint32Array(count);
  const { bytes } = reader;
  let n = 0;
  let token = '';
  const outMax = mode === 'I' ? 65535 : 255;
  const flush = (): void => {
    if (token.length === 0 || n >= count) return;
    if (token.length > MAX_TOKEN) throw new Error(`PNM: token too long in the data: ${token}`);
    if (!/^\d+$/.test(token)) throw new Error(`PNM: bad sample ${token}`);
    const value = Number.parseInt(token, 10);
    if (value > maxval) throw new Error(`PNM: sample ${value} is above maxval ${maxval}`);
    out[n++] = roundHalfEven((value / maxval) * outMax);
    token = '';
  };
  while (reader.pos < bytes.length && n < count) {
    const c = bytes[reader.pos++]!;
    if (c === HASH) {
      while (reader.pos < bytes.length && bytes[reader.pos] !== 0x0a && bytes[reader.pos] !== 0x0d) reader.pos++;
      continue;
    }
    if (WHITESPACE.has(c)) {
      if (kind !== 1) flush();
      continue;
    }
    if (kind === 1) {
      if (c !== 0x30 && c !== 0x31) throw new Error(`PNM: invalid bit ${String.fromCharCode(c)}`);
      out[n++] = c === 0x30 ? 255 : 0;
    } else {
      token += String.fromCharCode(c);
    }
  }
  if (kind !== 1) flush();
  if (n < count) throw new Error('PNM: image file is truncated');
  return out;
}

function toRgb(values: Uint32Array, width: number, height: number, bands: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      // Mode "I" samples above 255 clip, as PIL's i2rgb does.
      data[i * 3 + c] = Math.min(255, values[bands === 3 ? i * 3 + c : i]!);
    }
  }
  return { width, height, data };
}
