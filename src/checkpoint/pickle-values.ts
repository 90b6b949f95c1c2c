// The values a pickle builds, and the interface through which allowlisted globals build them.
// Python's containers become the classes below; objects that torch or numpy globals build are
// subclasses of PyObject defined beside their handlers (torch-objects.ts, numpy.ts). Nothing
// here runs code: a value is plain data. docs/checkpoint-format.md §6.4, §6.5.

import { pyFloat } from '../python-repr.js';

/** A Python float (kept apart from ints so that `2.0` and `2` stay distinguishable). */
export class PyFloat {
  constructor(readonly value: number) {}
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyList {
  readonly items: PyValue[] = [];
}

/** dict or collections.OrderedDict; insertion order is kept for both, as in Python 3.7+. */
export class PyDict {
  readonly keys: PyValue[] = [];
  readonly values: PyValue[] = [];
  /** Instance attributes set by BUILD (a state_dict's `_metadata`). */
  attrs: PyDict | null = null;
  private readonly index = new Map<string, number>();

  constructor(readonly ordered: boolean) {}

  get size(): number {
    return this.keys.length;
  }

  set(key: PyValue, value: PyValue): void {
    const h = hashKey(key);
    const i = this.index.get(h);
    if (i !== undefined) {
      this.values[i] = value;
      return;
    }
    this.index.set(h, this.keys.length);
    this.keys.push(key);
    this.values.push(value);
  }

  get(key: PyValue): PyValue | undefined {
    const i = this.index.get(hashKey(key));
    return i === undefined ? undefined : this.values[i];
  }

  has(key: PyValue): boolean {
    return this.index.has(hashKey(key));
  }

  *entries(): IterableIterator<[PyValue, PyValue]> {
    for (let i = 0; i < this.keys.length; i++) yield [this.keys[i] as PyValue, this.values[i] as PyValue];
  }
}

export class PySet {
  readonly items: PyValue[] = [];
  private readonly index = new Set<string>();

  constructor(readonly frozen: boolean) {}

  add(v: PyValue): void {
    const h = hashKey(v);
    if (this.index.has(h)) return;
    this.index.add(h);
    this.items.push(v);
  }
}

/** A global that the allowlist resolved; it is a value until a REDUCE/NEWOBJ asks its handler. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly handler: GlobalHandler,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * A value built by a handler. BUILD reaches it through `setState`; objects without one refuse BUILD.
 * Subclasses are plain data (a tensor reference, a module node, a numpy array, ...).
 */
export abstract class PyObject {
  abstract readonly typeName: string;
  setState?(state: PyValue): void;
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyFloat
  | PyTuple
  | PyList
  | PyDict
  | PySet
  | PyGlobal
  | PyObject;

/** What an allowed global may be used for. A handler without `call` cannot be REDUCEd, etc. */
export interface GlobalHandler {
  /** REDUCE: `global(*args)`. */
  call?(args: readonly PyValue[]): PyValue;
  /** NEWOBJ / NEWOBJ_EX: `global.__new__(global, *args)`. */
  newObject?(args: readonly PyValue[]): PyValue;
}

/** Allowlist keyed by `'module name'` (the two lines of a GLOBAL opcode joined by a space). */
export type Allowlist = ReadonlyMap<string, GlobalHandler>;

/** Handlers report bad arguments with this; the VM adds the offset. */
export class PickleValueError extends Error {}

/**
 * Callbacks (a persistent_load, a handler) report a well-formed stream whose content they refuse
 * with this; the message is kept as it is, the VM adds the offset.
 */
export class PickleContentError extends Error {}

const MAX_KEY_DEPTH = 64;

/** Python equality for hashable keys: True == 1 == 1.0, tuples compare item-wise. */
function hashKey(v: PyValue, depth = 0): string {
  if (depth > MAX_KEY_DEPTH) throw new PickleValueError('dict key nested too deeply');
  if (v === null) return 'N';
  if (typeof v === 'boolean') return v ? 'i1' : 'i0';
  if (typeof v === 'number') return `i${v}`;
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'string') return `s${v}`;
  if (v instanceof Uint8Array) return `b${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1')}`;
  if (v instanceof PyFloat) return Number.isInteger(v.value) ? `i${BigInt(v.value)}` : `f${v.value}`;
  if (v instanceof PyTuple) return `t${JSON.stringify(v.items.map((x) => hashKey(x, depth + 1)))}`;
  if (v instanceof PyGlobal) return `g${v.module} ${v.name}`;
  throw new PickleValueError(`unhashable ${typeName(v)} used as a dict key or set item`);
}

/** A short Python-ish name for a value, for messages. */
export function typeName(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number' || typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyFloat) return 'float';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyList) return 'list';
  if (v instanceof PyDict) return v.ordered ? 'collections.OrderedDict' : 'dict';
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PyGlobal) return v.qualifiedName;
  return v.typeName;
}

/** Read a value as text: str, or bytes taken as latin1 (Python 2 `str` under `encoding='latin1'`). */
export function asText(v: PyValue): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
  return undefined;
}

/** An int as a JS number when it is one (bool is an int in Python, but not here). */
export function asInt(v: PyValue): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return undefined;
}

/** A tuple of ints (a shape or stride), or undefined. */
export function asIntTuple(v: PyValue): number[] | undefined {
  if (!(v instanceof PyTuple)) return undefined;
  const out: number[] = [];
  for (const it of v.items) {
    const n = asInt(it);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

/** A Python-ish rendering of small values for messages; containers other than tuples by type. */
export function reprValue(v: PyValue | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (v instanceof PyFloat) return pyFloat(v.value);
  if (v instanceof PyTuple) return `(${v.items.map(reprValue).join(', ')}${v.items.length === 1 ? ',' : ''})`;
  return typeName(v);
}
