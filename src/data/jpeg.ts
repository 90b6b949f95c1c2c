// JPEG decoding through the image addon (libjpeg-turbo with PIL's settings; see
// native/image/jpeg.cc). That addon has no libtorch: it loads in milliseconds, on first use.
import { loadImageAddon, type DecodedJpeg } from '../native/binding.js';
import type { Rect } from './image.js';

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * The pixels of `region` (default: the whole image) as region.width x region.height x channels
 * bytes; channels 3 (RGB, CMYK converted as PIL does) or 1 (grey); width and height are the whole
 * image's. Only the rows and columns around a region are reconstructed, with the same pixels as a
 * full decode. Decoded on libuv's thread pool, so several calls in flight decode in parallel.
 */
export function decodeJpeg(bytes: Uint8Array, region?: Rect): Promise<DecodedJpeg> {
  return loadImageAddon().decodeJpeg(bytes, region);
}

/** The whole image on the calling thread: for small in-memory images, where the pool's round trip costs more. */
export function decodeJpegSync(bytes: Uint8Array): DecodedJpeg {
  return loadImageAddon().decodeJpegSync(bytes);
}

/** The image's width and height, from its header. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } {
  return loadImageAddon().jpegSize(bytes);
}

/** Interleaved 8-bit RGB to JPEG bytes, encoded as PIL's Image.save(f, 'JPEG', quality=q) does. */
export function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality: number): Uint8Array {
  return loadImageAddon().encodeJpeg(rgb, width, height, quality);
}
