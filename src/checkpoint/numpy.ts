// numpy arrays inside pickles (CIFAR's python-format batches, and anything numpy.save-adjacent):
// the allowlist entries that rebuild `ndarray`, `dtype` and numpy scalars as plain data, and a
// reader that returns plain JS values with every array as a `Tensor`.

import { ITEM_SIZE, viewAs, type DType, type Tensor } from '../tensor.js';
import { PickleError, runPickle, type PickleLimits } from './pickle.js';
import {
  EMPTY_TUPLE,
  PickleValueError,
  PyDict,
  PyFloat,
  PyGlobal,
  PyList,
  PyObject,
  PySet,
  PyTuple,
  asInt,
  asIntTuple,
  asText,
  typeName,
  type Allowlist,
  type GlobalHandler,
  type HandlerContext,
  type PyValue,
} from './pickle-values.js';
import { quote } from '../quote.js';
import { DATA_PICKLE_LIMITS, ReadBudget } from './budget.js';
import { PYTHON_GLOBALS, combineAllowlists } from './python-globals.js';
import { contiguousStrides, gatherStrided, safeNumel } from './strided.js';

const NUMPY_KINDS: Record<string, DType> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  b1: 'bool',
};

/** The numpy type string (without byte order) of each wmnn dtype; bfloat16 has none in numpy. */
export const NUMPY_TYPESTR: Partial<Record<DType, string>> = Object.fromEntries(Object.entries(NUMPY_KINDS).map(([k, d]) => [d, k]));

/** Parse a numpy type string such as `<f4`, `|u1`, `u1`; byte order `>` means big-endian. */
export function parseTypestr(s: string): { dtype: DType; bigEndian: boolean } {
  let order = '=';
  let kind = s;
  if (s.length > 0 && '<>|='.includes(s[0] as string)) {
    order = s[0] as string;
    kind = s.slice(1);
  }
  const dtype = NUMPY_KINDS[kind];
  if (dtype === undefined) throw new PickleValueError(`numpy dtype ${quote(s)} is not supported`);
  return { dtype, bigEndian: order === '>' && ITEM_SIZE[dtype] > 1 };
}

/** numpy.dtype as REDUCE + BUILD leave it. */
export class NumpyDType extends PyObject {
  readonly typeName = 'numpy.dtype';
  bigEndian: boolean;

  constructor(
    readonly dtype: DType,
    bigEndian: boolean,
  ) {
    super();
    this.bigEndian = bigEndian;
  }

  // State (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]).
  override setState(state: PyValue): void {
    if (!(state instanceof PyTuple) || state.items.length < 5) throw new PickleValueError('numpy dtype state is not a tuple');
    const [, order, subarray, names, fields] = state.items;
    if (subarray !== null || names !== null || fields !== null) throw new PickleValueError('structured numpy dtypes are not supported');
    const o = asText(order ?? null);
    if (o === undefined || !'<>|='.includes(o)) throw new PickleValueError(`numpy dtype byte order ${String(o)}`);
    this.bigEndian = o === '>' && ITEM_SIZE[this.dtype] > 1;
  }
}

/** An ndarray; its tensor exists once BUILD (or `_frombuffer`) has given it data. */
export class NumpyArray extends PyObject {
  readonly typeName = 'numpy.ndarray';
  tensor: Tensor | null = null;

  // State (version, shape, dtype, is_fortran, rawdata), or the same without version.
  override setState(state: PyValue, ctx: HandlerContext): void {
    if (!(state instanceof PyTuple)) throw new PickleValueError('numpy array state is not a tuple');
    const items = state.items.length === 5 ? state.items.slice(1) : state.items;
    if (items.length !== 4) throw new PickleValueError('numpy array state has the wrong length');
    const [shapeV, dtypeV, fortranV, raw] = items as [PyValue, PyValue, PyValue, PyValue];
    if (typeof fortranV !== 'boolean' && fortranV !== 0 && fortranV !== 1) throw new PickleValueError('numpy is_fortran flag');
    this.tensor = arrayFrom(raw, dtypeV, shapeV, fortranV === true || fortranV === 1, ctx);
  }
}

function rawBytes(raw: PyValue, ctx: HandlerContext): Uint8Array {
  if (raw instanceof Uint8Array) return raw;
  if (typeof raw === 'string') {
    // A Python 2 str read with encoding='latin1'.
    ctx.budget.hold(raw.length, 'a numpy array');
    if (/[^\x00-\xff]/.test(raw)) throw new PickleValueError('numpy array data is not latin1 text');
    return new Uint8Array(Buffer.from(raw, 'latin1'));
  }
  if (raw instanceof PyList) throw new PickleValueError('numpy object arrays are not supported');
  throw new PickleValueError(`numpy array data is ${typeName(raw)}`);
}

/** The array's data as a tensor; copies (byte swaps, Fortran order) are charged to the budget. */
function arrayFrom(rawV: PyValue, dtypeV: PyValue, shapeV: PyValue, fortran: boolean, ctx: HandlerContext): Tensor {
  if (!(dtypeV instanceof NumpyDType)) throw new PickleValueError(`numpy array dtype is ${typeName(dtypeV)}`);
  const shape = asIntTuple(shapeV);
  if (shape === undefined) throw new PickleValueError('numpy array shape is not a tuple of ints');
  ctx.budget.step(shape.length);
  const raw = rawBytes(rawV, ctx);
  const size = ITEM_SIZE[dtypeV.dtype];
  const n = safeNumel(shape);
  // Checked against the data actually present before any allocation.
  if (n * size !== raw.length) {
    throw new PickleValueError(`numpy array of shape (${shape.join(', ')}) ${dtypeV.dtype} needs ${n * size} bytes, has ${raw.length}`);
  }
  ctx.budget.build(1);
  let bytes = raw;
  if (dtypeV.bigEndian) {
    ctx.budget.hold(bytes.length, 'a numpy array');
    bytes = byteSwapped(bytes, size);
  }
  if (fortran && shape.length > 1) {
    ctx.budget.hold(bytes.length, 'a numpy array');
    ctx.budget.step(n);
    const fstrides = contiguousStrides([...shape].reverse()).reverse();
    bytes = gatherStrided(bytes, size, 0, shape, fstrides);
  }
  return { dtype: dtypeV.dtype, shape, data: viewAs(dtypeV.dtype, bytes) };
}

function byteSwapped(src: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = src[i + size - 1 - j] as number;
  }
  return out;
}

function dtypeHandler(args: readonly PyValue[]): PyValue {
  const code = asText(args[0] ?? null);
  if (code === undefined) throw new PickleValueError('numpy.dtype needs a type string');
  const { dtype, bigEndian } = parseTypestr(code);
  return new NumpyDType(dtype, bigEndian);
}

function reconstructHandler(args: readonly PyValue[]): PyValue {
  const cls = args[0];
  if (!(cls instanceof PyGlobal) || cls.name !== 'ndarray') throw new PickleValueError('_reconstruct is allowed only for numpy.ndarray');
  return new NumpyArray();
}

// Protocol 5: _frombuffer(buffer, dtype, shape, order).
function frombufferHandler(args: readonly PyValue[], ctx: HandlerContext): PyValue {
  const [buf, dtype, shape, order] = args;
  if (args.length !== 4 || (order !== 'C' && order !== 'F')) throw new PickleValueError('_frombuffer(buffer, dtype, shape, order)');
  const a = new NumpyArray();
  a.tensor = arrayFrom(buf ?? null, dtype ?? null, shape ?? null, order === 'F', ctx);
  return a;
}

// numpy scalars: scalar(dtype, bytes).
function scalarHandler(args: readonly PyValue[], ctx: HandlerContext): PyValue {
  const [dtypeV, raw] = args;
  if (!(dtypeV instanceof NumpyDType)) throw new PickleValueError('numpy scalar needs a dtype');
  const t = arrayFrom(raw ?? null, dtypeV, EMPTY_TUPLE, false, ctx);
  const v = t.data[0];
  if (v === undefined) throw new PickleValueError('numpy scalar without data');
  if (t.dtype === 'bool') return v !== 0;
  if (t.dtype === 'float32' || t.dtype === 'float64') return new PyFloat(Number(v));
  if (t.dtype === 'float16') throw new PickleValueError('float16 numpy scalars are not supported');
  if (typeof v === 'bigint') return asInt(v) ?? v;
  return v;
}

const h = (call: (args: readonly PyValue[], ctx: HandlerContext) => PyValue): GlobalHandler => ({ call });

/** numpy 1.x and 2.x module paths for array, dtype and scalar reconstruction, plus PYTHON_GLOBALS. */
export const NUMPY_GLOBALS: Allowlist = combineAllowlists(
  PYTHON_GLOBALS,
  new Map<string, GlobalHandler>([
    ['numpy ndarray', {}],
    ['numpy dtype', h(dtypeHandler)],
    ['numpy.core.multiarray _reconstruct', h(reconstructHandler)],
    ['numpy._core.multiarray _reconstruct', h(reconstructHandler)],
    ['numpy.core.numeric _frombuffer', h(frombufferHandler)],
    ['numpy._core.numeric _frombuffer', h(frombufferHandler)],
    ['numpy.core.multiarray scalar', h(scalarHandler)],
    ['numpy._core.multiarray scalar', h(scalarHandler)],
  ]),
);

/** What `readNumpyPickle` returns: plain JS values; tuples and sets become arrays. */
export type PlainValue = null | boolean | number | bigint | string | Uint8Array | Tensor | PlainValue[] | PlainDict;

/** dict keys: str, bytes (as their latin1 text, as Python 2 `str` keys read with encoding='latin1') or int. */
export type PlainDict = Map<string | number, PlainValue>;

export function isTensor(v: PlainValue | undefined): v is Tensor {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v) && !(v instanceof Map);
}

const MAX_PLAIN_DEPTH = 200;

/**
 * Convert unpickled values to plain data; refuses cycles and absurd nesting. A value reachable
 * many times (through the memo) is converted once and shared, so the work stays linear in the
 * pickle's size however its objects are shared.
 */
export function toPlain(v: PyValue): PlainValue {
  return plainOf(v, 0, new Set(), new Map());
}

function plainOf(v: PyValue, depth: number, path: Set<object>, done: Map<object, PlainValue>): PlainValue {
  if (depth > MAX_PLAIN_DEPTH) throw new PickleValueError('value nested too deeply');
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string') return v;
  if (v instanceof Uint8Array) return v;
  if (v instanceof PyFloat) return v.value;
  if (v instanceof NumpyArray) {
    if (v.tensor === null) throw new PickleValueError('numpy array without data');
    return v.tensor;
  }
  if (path.has(v)) throw new PickleValueError('recursive structure');
  const seen = done.get(v);
  if (seen !== undefined) return seen;
  path.add(v);
  let out: PlainValue;
  try {
    if (v instanceof PyTuple || v instanceof PyList || v instanceof PySet) {
      out = v.items.map((x) => plainOf(x, depth + 1, path, done));
    } else if (v instanceof PyDict) {
      const d: PlainDict = new Map();
      for (const [k, val] of v.entries()) {
        const key = typeof k === 'number' ? k : asText(k);
        if (key === undefined) throw new PickleValueError(`dict key of type ${typeName(k)} is not supported`);
        if (d.has(key)) throw new PickleValueError(`dict key ${typeof key === 'string' ? quote(key) : key} appears as both str and bytes`);
        d.set(key, plainOf(val, depth + 1, path, done));
      }
      out = d;
    } else {
      throw new PickleValueError(`${typeName(v)} has no plain form`);
    }
  } finally {
    path.delete(v);
  }
  done.set(v, out);
  return out;
}

export interface NumpyPickleOptions {
  limits?: Partial<PickleLimits>;
}

/**
 * Read a pickle of plain Python data and numpy arrays (e.g. a CIFAR batch written by Python 2's
 * cPickle or by Python 3 at any protocol). Python 2 `str` is read as latin1 text, like
 * `pickle.load(f, encoding='latin1')`. Throws PickleError (one line, with the byte offset).
 */
export function readNumpyPickle(bytes: Uint8Array, opts: NumpyPickleOptions = {}): PlainValue {
  const budget = new ReadBudget(DATA_PICKLE_LIMITS);
  const r = runPickle(bytes, { globals: NUMPY_GLOBALS, py2Strings: 'latin1', budget, ...(opts.limits ? { limits: opts.limits } : {}) });
  try {
    return toPlain(r.value);
  } catch (e) {
    if (e instanceof PickleError) throw e;
    throw new PickleError(`malformed pickle (${e instanceof Error ? e.message : String(e)}) ending at byte ${r.end}`, r.end);
  }
}
