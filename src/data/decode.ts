// Any supported image file to 8-bit RGB, as PIL's Image.open(path).convert('RGB') gives it.
// The format is sniffed from the content: some "jpg" files in the wild are PNGs.
import { PNG } from 'pngjs';
import { cropWindow, insideImage, type Rect, type RgbImage } from './image.js';
import { decodeJpeg, isJpeg, jpegSize } from './jpeg.js';
import { decodePnm, isPnm } from './pnm.js';
import { readRegularFile } from './regular-file.js';

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

/** The JPEG's pixels (of `region` only, when given) as RGB. */
async function jpegToRgb(bytes: Uint8Array, region?: Rect): Promise<RgbImage> {
  const decoded = await decodeJpeg(bytes, region);
  const { channels, data } = decoded;
  const { width, height } = region ?? decoded;
  if (channels === 3) return { width, height, data };
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = data[i]!;
  return { width, height, data: rgb };
}

/** PNG colour type 0: grey without alpha, the one 16-bit case PIL reads as 32-bit integers. */
const PNG_GREY = 0;
const PNG_PALETTE = 3;

/**
 * The PNG without its tRNS chunks. convert('RGB') ignores transparency, but pngjs blanks every
 * pixel of a grey/RGB image that has the transparent colour key (to 0, 0, 0, 0).
 */
function withoutTransparency(bytes: Buffer): Buffer {
  const parts: Buffer[] = [bytes.subarray(0, 8)];
  let pos = 8;
  while (pos + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(pos);
    const end = Math.min(pos + 12 + length, bytes.length);
    if (bytes.toString('latin1', pos + 4, pos + 8) !== 'tRNS') parts.push(bytes.subarray(pos, end));
    pos = end;
  }
  if (pos < bytes.length) parts.push(bytes.subarray(pos));
  return Buffer.concat(parts);
}

/**
 * PNG through pngjs (jimp's own PNG decoder, called directly to see the raw samples). PIL drops
 * alpha, replicates grey, expands palettes, scales 1/2/4-bit greys to 0..255, reads 16-bit
 * samples by their high byte -- except 16-bit grey, kept as integers that convert('RGB') clips at 255.
 * The whole file is decoded (so a damaged one fails as in PIL); with `windowOf`, only the part of
 * the image inside the window is converted, and the window crop returned (as cropWindow).
 */
function pngToRgb(bytes: Uint8Array, windowOf?: (width: number, height: number) => Rect): RgbImage {
  const source = withoutTransparency(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const png = PNG.sync.read(source, { skipRescale: true });
  const { width, height, depth } = png;
  const colorType: number = png.colorType; // @types/pngjs omits 3 (palette), which pngjs does report
  const rgba = png.data as unknown as ArrayLike<number>;
  // Palette entries are already 8-bit colours; other samples have `depth` bits.
  const sample: (v: number) => number =
    colorType === PNG_PALETTE || depth === 8 ? (v) => v
      : depth === 16 ? (colorType === PNG_GREY ? (v) => Math.min(v, 255) : (v) => v >> 8)
      : (v) => (v * 255) / (2 ** depth - 1);
  const window = windowOf?.(width, height);
  const part = window ? insideImage(window, width, height) : { left: 0, top: 0, width, height };
  const w = Math.max(0, part.width);
  const h = Math.max(0, part.height);
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = ((part.top + y) * width + part.left + x) * 4;
      const d = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) rgb[d + c] = sample(rgba[s + c]!);
    }
  }
  const image = { width: w, height: h, data: rgb };
  return window ? cropWindow(image, part, window) : image;
}

/**
 * BMP through jimp: its RGBA output minus the alpha is what PIL's convert('RGB') keeps. jimp is
 * loaded on the first BMP: it takes longer to load than a trigger set of JPEGs takes to decode.
 */
async function bmpToRgb(bytes: Uint8Array): Promise<RgbImage> {
  const { Jimp } = await import('jimp');
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
  if (isPng(bytes)) return pngToRgb(bytes);
  if (isBmp(bytes)) return bmpToRgb(bytes);
  if (isPnm(bytes)) return decodePnm(bytes);
  throw new Error(`not a JPEG, PNG, BMP or PNM image (format: ${formatName(bytes)})`);
}

/** A file's bytes, for decodeImageWindow; a failure becomes one line naming the file. */
export async function readImageBytes(path: string): Promise<Uint8Array> {
  try {
    return await readRegularFile(path);
  } catch (error) {
    throw new Error(`${path}: cannot read image: ${(error as Error).message}`);
  }
}

async function decoding<T>(path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    throw new Error(`${path}: cannot decode image: ${message}`);
  }
}

/** Reads and decodes a file; every failure becomes one line naming it. */
export async function readImage(path: string): Promise<RgbImage> {
  const bytes = await readImageBytes(path);
  return decoding(path, () => decodeImage(bytes));
}

/**
 * The crop `windowOf(width, height)` of an image (the bytes of the file `path`, which failures
 * name), zeros where it reaches outside, as cropWindow gives it from the whole picture. A JPEG has
 * only the part around the window reconstructed (the same pixels, a fraction of the work for a
 * small crop of a photo), on libuv's pool; other formats are decoded whole, on the calling thread.
 */
export async function decodeImageWindow(path: string, bytes: Uint8Array, windowOf: (width: number, height: number) => Rect): Promise<RgbImage> {
  return decoding(path, async () => {
    if (isPng(bytes)) return pngToRgb(bytes, windowOf);
    if (!isJpeg(bytes)) {
      const image = await decodeImage(bytes);
      return cropWindow(image, { left: 0, top: 0 }, windowOf(image.width, image.height));
    }
    const { width, height } = jpegSize(bytes);
    const window = windowOf(width, height);
    const inside = insideImage(window, width, height);
    return cropWindow(await jpegToRgb(bytes, inside), inside, window);
  });
}

/** readImageWindow of a file: its bytes read, then decodeImageWindow. */
export async function readImageWindow(path: string, windowOf: (width: number, height: number) => Rect): Promise<RgbImage> {
  return decodeImageWindow(path, await readImageBytes(path), windowOf);
}
