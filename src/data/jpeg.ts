// JPEG decoding through the native addon (libjpeg-turbo with PIL's settings; see native/jpeg.cc).
// The addon is loaded on first use, so readers that never meet a JPEG work without it.
import { loadBinding } from '../native/binding.js';

export type DecodedJpeg = ReturnType<ReturnType<typeof loadBinding>['decodeJpeg']>;

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** width x height x channels bytes; channels 3 (RGB, CMYK converted as PIL does) or 1 (grey). */
export function decodeJpeg(bytes: Uint8Array): DecodedJpeg {
  return loadBinding().decodeJpeg(bytes);
}
