// Turning (bytes, offset, size, stride) into a dense C-contiguous copy, with every index checked
// against the source before anything is allocated. Shared by torch tensors (which carry strides)
// and numpy arrays (Fortran order).

/** Product of dims, or Infinity when it leaves the safe-integer range. */
export function safeNumel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return Infinity;
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return n;
}

/** C-contiguous strides (in elements) of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i] as number;
  }
  return s;
}

/**
 * Why the view (offset, size, stride) does not fit in `available` elements, or null when it does.
 * An empty view (some size 0) always fits.
 */
export function viewProblem(offset: number, size: readonly number[], stride: readonly number[], available: number): string | null {
  if (size.length !== stride.length) return `size has ${size.length} dims but stride has ${stride.length}`;
  if (!Number.isSafeInteger(offset) || offset < 0) return `storage offset ${offset} is invalid`;
  for (let i = 0; i < size.length; i++) {
    const d = size[i] as number;
    const s = stride[i] as number;
    if (!Number.isSafeInteger(d) || d < 0) return `size ${d} is invalid`;
    if (!Number.isSafeInteger(s) || s < 0) return `stride ${s} is unsupported`;
  }
  if (size.some((d) => d === 0)) return null;
  let last = offset;
  for (let i = 0; i < size.length; i++) last += ((size[i] as number) - 1) * (stride[i] as number);
  if (!Number.isSafeInteger(last) || last >= available) return `needs element ${last} of ${available}`;
  return null;
}

/** True when the view covers its elements densely in C order starting at `offset`. */
export function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  let expect = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    const d = size[i] as number;
    if (d !== 1 && stride[i] !== expect) return false;
    expect *= d;
  }
  return true;
}

/**
 * Gather a view into a new dense buffer. The caller has checked the view with `viewProblem`
 * and bounded the result size.
 */
export function gatherStrided(
  src: Uint8Array,
  itemSize: number,
  offset: number,
  size: readonly number[],
  stride: readonly number[],
): Uint8Array {
  const n = safeNumel(size);
  const out = new Uint8Array(n * itemSize);
  if (n === 0) return out;
  const nd = size.length;
  const idx = new Array<number>(nd).fill(0);
  let srcElem = offset;
  for (let k = 0; k < n; k++) {
    const from = srcElem * itemSize;
    out.set(src.subarray(from, from + itemSize), k * itemSize);
    // Odometer increment over the C-order index, adjusting the source position by strides.
    for (let d = nd - 1; d >= 0; d--) {
      const i = (idx[d] as number) + 1;
      if (i < (size[d] as number)) {
        idx[d] = i;
        srcElem += stride[d] as number;
        break;
      }
      idx[d] = 0;
      srcElem -= ((size[d] as number) - 1) * (stride[d] as number);
    }
  }
  return out;
}
