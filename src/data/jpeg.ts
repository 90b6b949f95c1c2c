// JPEG decoding through the native addon (libjpeg-turbo with PIL's settings; see native/jpeg.cc).
import { createRequire } from 'node:module';

export interface DecodedJpeg {
  width: number;
  height: number;
  /** 3 for colour (RGB, CMYK already converted as PIL does), 1 for greyscale. */
  channels: 1 | 3;
  data: Uint8Array;
}

interface JpegBinding {
  decodeJpeg(bytes: Uint8Array): DecodedJpeg;
}

let binding: JpegBinding | undefined;

// Loaded on first use so that readers which never meet a JPEG (CIFAR, synthetic) work without the addon.
function load(): JpegBinding {
  if (!binding) {
    const require = createRequire(import.meta.url);
    binding = require(new URL('../../build/Release/wmnn.node', import.meta.url).pathname) as JpegBinding;
  }
  return binding;
}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export function decodeJpeg(bytes: Uint8Array): DecodedJpeg {
  return load().decodeJpeg(bytes);
}
