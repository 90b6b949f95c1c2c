// The idx format of MNIST and Fashion-MNIST (LeCun's; torchvision's read_sn3_pascalvincent_tensor):
// a big-endian header -- two zero bytes, a type byte (0x08: unsigned bytes), a dimension count --
// then one 32-bit size per dimension, then the values. Only the uint8 files these datasets use are
// read: 3 dimensions for images (N x rows x columns), 1 for labels (N).
import { gunzipSync } from 'node:zlib';

/** The type byte of unsigned 8-bit values, the only type MNIST-style images and labels have. */
const IDX_UBYTE = 0x08;
const GZIP_MAGIC = [0x1f, 0x8b];
/**
 * The most bytes a .gz file may inflate to: 256 MiB, five times MNIST's largest file (47 MB,
 * 60,000 images), so a small hostile file (a deflate bomb) cannot take the memory.
 */
export const IDX_MAX_BYTES = 256 << 20;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/** The file's bytes, inflated when they are gzip (whatever the name); errors name the file. */
export function inflateIdx(bytes: Uint8Array, file: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, { maxOutputLength: IDX_MAX_BYTES });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const reason = e.code === 'ERR_BUFFER_TOO_LARGE' ? `inflates to more than ${IDX_MAX_BYTES} bytes` : e.message;
    throw new Error(`${file}: cannot decompress: ${reason}`);
  }
}

/** Parses an (inflated) idx file of uint8 values with `ndims` dimensions. */
export function parseIdx(bytes: Uint8Array, file: string, ndims: 1 | 3): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    const head = Buffer.from(bytes.subarray(0, 4)).toString('hex');
    const magic = `0000${IDX_UBYTE.toString(16).padStart(2, '0')}0${ndims}`;
    throw new Error(`${file}: not an idx file (magic ${head || 'missing'}, expected ${magic})`);
  }
  if (bytes[2] !== IDX_UBYTE) throw new Error(`${file}: idx values of type 0x${bytes[2]!.toString(16)}, expected 0x08 (unsigned bytes)`);
  if (bytes[3] !== ndims) {
    throw new Error(`${file}: ${bytes[3]} dimensions, expected ${ndims} (${ndims === 3 ? 'images x rows x columns' : 'labels'})`);
  }
  const header = 4 + 4 * ndims;
  if (bytes.length < header) throw new Error(`${file}: truncated: ${bytes.length} bytes, the header alone takes ${header}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const expected = header + dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'trailing bytes';
    throw new Error(`${file}: ${what}: ${bytes.length} bytes, the header (${dims.join(' x ')}) needs ${expected}`);
  }
  return { dims, data: bytes.subarray(header) };
}
