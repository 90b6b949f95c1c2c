// The two on-disk formats of a CIFAR batch file, parsed to planes and labels: torchvision's
// python pickles (a dict with 'data' N x 3072 uint8 and 'labels' or 'fine_labels') and the binary
// records of cifar-10-batches-bin / cifar-100-binary (label byte(s), then 3072 pixel bytes).
import { isTensor, readNumpyPickle, type PlainValue } from '../checkpoint/numpy.js';
import { IMAGE_BYTES } from './dataset.js';

export interface CifarBatch {
  images: Uint8Array;
  labels: Int32Array;
}

function labelArray(value: PlainValue | undefined, file: string, key: string): Int32Array {
  if (Array.isArray(value)) {
    const labels = new Int32Array(value.length);
    for (const [i, v] of value.entries()) {
      const n = typeof v === 'bigint' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new Error(`${file}: '${key}'[${i}] is not an integer`);
      labels[i] = n;
    }
    return labels;
  }
  const floating = isTensor(value) && ['float32', 'float64', 'float16', 'bfloat16'].includes(value.dtype);
  if (isTensor(value) && value.shape.length === 1 && !floating) {
    return Int32Array.from(value.data as ArrayLike<number | bigint>, (v) => Number(v));
  }
  throw new Error(`${file}: '${key}' is not a list of integers`);
}

/** A python-format batch, read with the project's safe unpickler (no arbitrary code runs). */
export function parsePythonBatch(bytes: Uint8Array, file: string): CifarBatch {
  let entry: PlainValue;
  try {
    entry = readNumpyPickle(bytes);
  } catch (error) {
    throw new Error(`${file}: not a CIFAR batch pickle: ${(error as Error).message}`);
  }
  if (!(entry instanceof Map)) throw new Error(`${file}: not a CIFAR batch (the pickle is not a dict)`);
  const data = entry.get('data');
  if (!isTensor(data) || data.dtype !== 'uint8' || data.data.length % IMAGE_BYTES !== 0) {
    throw new Error(`${file}: 'data' is not a uint8 array of 3072-byte rows`);
  }
  // torchvision takes 'labels' when present, else 'fine_labels' (CIFAR-100).
  const key = entry.has('labels') ? 'labels' : 'fine_labels';
  const labels = labelArray(entry.get(key), file, key);
  const count = data.data.length / IMAGE_BYTES;
  if (labels.length !== count) throw new Error(`${file}: ${labels.length} labels for ${count} images`);
  return { images: data.data as Uint8Array, labels };
}

/**
 * A binary batch: records of `labelBytes` label bytes (CIFAR-100: coarse then fine; the last one
 * is used) followed by the 3072 pixel bytes.
 */
export function parseBinaryBatch(bytes: Uint8Array, file: string, labelBytes: 1 | 2): CifarBatch {
  const record = labelBytes + IMAGE_BYTES;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new Error(`${file}: ${bytes.length} bytes is not a whole number of ${record}-byte CIFAR records`);
  }
  const count = bytes.length / record;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = bytes[i * record + labelBytes - 1]!;
    images.set(bytes.subarray(i * record + labelBytes, (i + 1) * record), i * IMAGE_BYTES);
  }
  return { images, labels };
}
