// Any supported image file to 8-bit RGB, as PIL's Image.open(path).convert('RGB') gives it.
// The format is sniffed from the content: some "jpg" files in the wild are PNGs.
import { readFile } from 'node:fs/promises';
import { Jimp } from 'jimp';
import type { RgbImage } from './image.js';
import { decodeJpeg, isJpeg } from './jpeg.js';
import { decodePnm, isPnm } from './pnm.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

function formatName(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (head.startsWith('GIF8')) return 'GIF';
  if (head.startsWith('II*') || head.startsWith('MM\0*')) return 'TIFF';
  if (head.startsWith('RIFF')) return 'RIFF/WebP';
  return 'unknown';
}

function jpegToRgb(bytes: Uint8Array): RgbImage {
  const { width, height, channels, data } = decodeJpeg(bytes);
  if (channels === 3) return { width, height, data };
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = data[i]!;
  return { width, height, data: rgb };
}

/**
 * PNG: PIL reads 16-bit samples by their high byte, and 16-bit greys as 32-bit integers that
 * convert('RGB') clips at 255; jimp rescales them instead, so those two cases would differ.
 */
function pngBitDepth(bytes: Uint8Array): { depth: number; colorType: number } {
  // IHDR is always the first chunk: depth at byte 24, colour type at byte 25.
  return { depth: bytes[24] ?? 0, colorType: bytes[25] ?? 0 };
}

/** jimp for PNG and BMP: its RGBA output minus the alpha is what PIL's convert('RGB') keeps. */
async function jimpToRgb(bytes: Uint8Array): Promise<RgbImage> {
  const image = await Jimp.fromBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const { width, height, data: rgba } = image.bitmap;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    rgb[i * 3] = rgba[i * 4]!;
    rgb[i * 3 + 1] = rgba[i * 4 + 1]!;
    rgb[i * 3 + 2] = rgba[i * 4 + 2]!;
  }
  return { width, height, data: rgb };
}

/** Decodes image bytes; throws a message without the path (the caller names the file). */
export async function decodeImage(bytes: Uint8Array): Promise<RgbImage> {
  if (isJpeg(bytes)) return jpegToRgb(bytes);
  if (isPng(bytes)) {
    const { depth } = pngBitDepth(bytes);
    if (depth === 16) throw new Error('16-bit PNG is not supported (PIL and jimp disagree on it); save it with 8 bits per sample');
    return jimpToRgb(bytes);
  }
  if (isBmp(bytes)) return jimpToRgb(bytes);
  if (isPnm(bytes)) return decodePnm(bytes);
  throw new Error(`not a JPEG, PNG, BMP or PNM image (format: ${formatName(bytes)})`);
}

/** Reads and decodes a file; every failure becomes one line naming it. */
export async function readImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`${path}: cannot read image: ${(error as Error).message}`);
  }
  try {
    return await decodeImage(bytes);
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    throw new Error(`${path}: cannot decode image: ${message}`);
  }
}
