// A tensor as plain data: what crosses between the checkpoint format, the data readers and the
// native engine. No math lives here; it is only the shape of the bytes.

/** Element types wmnn reads and writes (PyTorch's names). */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** The typed array holding each dtype; float16/bfloat16 keep their raw 16-bit patterns. */
export interface ArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export type TensorArray = ArrayOf[DType];

/** A dense, C-contiguous tensor in host memory. */
export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: ArrayOf[D];
}

export const ITEM_SIZE: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A typed-array view of `bytes` (copied when unaligned) as the given dtype. */
export function viewAs<D extends DType>(dtype: D, bytes: Uint8Array): ArrayOf[D] {
  const size = ITEM_SIZE[dtype];
  if (bytes.byteLength % size !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype}`);
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const n = src.byteLength / size;
  const ctor = {
    float32: Float32Array,
    float64: Float64Array,
    float16: Uint16Array,
    bfloat16: Uint16Array,
    int64: BigInt64Array,
    int32: Int32Array,
    int16: Int16Array,
    int8: Int8Array,
    uint8: Uint8Array,
    bool: Uint8Array,
  }[dtype];
  return new ctor(src.buffer as ArrayBuffer, src.byteOffset, n) as ArrayOf[D];
}

/** The bytes of a typed array, without copying. */
export function bytesOf(data: TensorArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function shapeString(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}
