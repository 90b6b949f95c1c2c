// The values a pickle builds, and the interface through which allowlisted globals build them.
// Python's containers become the classes below; objects that torch or numpy globals build are
// subclasses of PyObject defined beside their handlers (torch-objects.ts, numpy.ts). Nothing
// here runs code: a value is plain data. docs/checkpoint-format.md §6.4, §6.5.

import { pyFloat } from '../python-repr.js';
import { quote } from '../quote.js';
import type { ReadBudget } from './budget.js';

/** A Python float (kept apart from ints so that `2.0` and `2` stay distinguishable). */
export class PyFloat {
  constructor(readonly value: number) {}
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** `()`: one shared value, since tuples never change. */
export const EMPTY_TUPLE = new PyTuple([]);

export class PyList {
  constructor(readonly items: PyValue[] = []) {}
}

/**
 * Longest str or bytes accepted as a dict key or set item. Checkpoint keys are attribute and
 * tensor names; a bound also keeps V8 hashing every key in full (it hashes long strings by length).
 */
export const MAX_KEY_LENGTH = 4096;

/** Where a key lives in a dict's index: str keys as themselves, everything else as a `KeySlot`. */
type KeySlot = number | bigint | string;

const bytesSlots = new WeakMap<Uint8Array, string>();

/**
 * The index slot of a non-str key, with Python's equality among the scalars a checkpoint may use
 * as keys (docs/checkpoint-format.md §6.5): `True == 1 == 1.0`, `b'a' != 'a'`. Tuples, frozensets
 * and other values are refused: hashing them by value can cost time exponential in their size,
 * and no torch file has them as keys. The slot of a bytes object is computed once per object.
 */
function slotOf(v: PyValue): KeySlot {
  if (v === null) return 'N';
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (v instanceof PyFloat) {
    const x = v.value;
    return Number.isInteger(x) && !Number.isSafeInteger(x) ? BigInt(x) : x;
  }
  if (v instanceof Uint8Array) {
    let slot = bytesSlots.get(v);
    if (slot === undefined) {
      if (v.length > MAX_KEY_LENGTH)
        throw new PickleValueError(`a bytes key of ${v.length} bytes is longer than any name (limit ${MAX_KEY_LENGTH})`);
      slot = `b${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1')}`;
      bytesSlots.set(v, slot);
    }
    return slot;
  }
  throw new PickleValueError(`a ${typeName(v)} cannot be a dict key or set item here (checkpoints use str and int)`);
}

/** The index of dict keys or set items: str in one map, other scalars in another, made on first use. */
class KeyIndex {
  private strs: Map<string, number> | null = null;
  private others: Map<KeySlot, number> | null = null;

  find(key: PyValue): number | undefined {
    if (typeof key === 'string') return this.strs?.get(key);
    return this.others?.get(slotOf(key));
  }

  /** Records `key` at position `at` unless it is there already; returns its position. */
  add(key: PyValue, at: number): number {
    if (typeof key === 'string') {
      if (key.length > MAX_KEY_LENGTH)
        throw new PickleValueError(`a str key of ${key.length} characters is longer than any name (limit ${MAX_KEY_LENGTH})`);
      this.strs ??= new Map();
      const i = this.strs.get(key);
      if (i !== undefined) return i;
      this.strs.set(key, at);
      return at;
    }
    const slot = slotOf(key);
    this.others ??= new Map();
    const i = this.others.get(slot);
    if (i !== undefined) return i;
    this.others.set(slot, at);
    return at;
  }
}

/** dict or collections.OrderedDict; insertion order is kept for both, as in Python 3.7+. */
export class PyDict {
  readonly keys: PyValue[] = [];
  readonly values: PyValue[] = [];
  /** Instance attributes set by BUILD (a state_dict's `_metadata`). */
  attrs: PyDict | null = null;
  private readonly index = new KeyIndex();

  constructor(readonly ordered: boolean) {}

  get size(): number {
    return this.keys.length;
  }

  /** `d[key] = value`; returns true when the key is new. */
  set(key: PyValue, value: PyValue): boolean {
    const at = this.keys.length;
    const i = this.index.add(key, at);
    if (i !== at) {
      this.values[i] = value;
      return false;
    }
    this.keys.push(key);
    this.values.push(value);
    return true;
  }

  get(key: PyValue): PyValue | undefined {
    const i = this.index.find(key);
    return i === undefined ? undefined : this.values[i];
  }

  has(key: PyValue): boolean {
    return this.index.find(key) !== undefined;
  }

  *entries(): IterableIterator<[PyValue, PyValue]> {
    for (let i = 0; i < this.keys.length; i++) yield [this.keys[i] as PyValue, this.values[i] as PyValue];
  }
}

export class PySet {
  readonly items: PyValue[] = [];
  private readonly index = new KeyIndex();

  constructor(readonly frozen: boolean) {}

  /** Adds `v`; returns true when it was not there. */
  add(v: PyValue): boolean {
    const at = this.items.length;
    if (this.index.add(v, at) !== at) return false;
    this.items.push(v);
    return true;
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
 * What a handler may use while it builds a value: the read's budget, to count work and memory
 * beyond a fixed-size object (copies, loops over items).
 */
export interface HandlerContext {
  readonly budget: ReadBudget;
}

/**
 * A value built by a handler. BUILD reaches it through `setState`; objects without one refuse BUILD.
 * Subclasses are plain data (a tensor reference, a module node, a numpy array, ...).
 */
export abstract class PyObject {
  abstract readonly typeName: string;
  setState?(state: PyValue, ctx: HandlerContext): void;
}

export type PyValue =
  null | boolean | number | bigint | string | Uint8Array | PyFloat | PyTuple | PyList | PyDict | PySet | PyGlobal | PyObject;

/** What an allowed global may be used for. A handler without `call` cannot be REDUCEd, etc. */
export interface GlobalHandler {
  /** REDUCE: `global(*args)`. */
  call?(args: readonly PyValue[], ctx: HandlerContext): PyValue;
  /** NEWOBJ / NEWOBJ_EX: `global.__new__(global, *args)`. */
  newObject?(args: readonly PyValue[], ctx: HandlerContext): PyValue;
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

/** How much of a value a message renders before it stops with `…`. */
const MAX_REPR = 80;

/**
 * A Python-ish rendering of a small value for messages: scalars, str (quoted and escaped) and
 * tuples of them; other containers by type. Stops after about MAX_REPR characters, so a value
 * built as a graph of shared tuples costs no more than a short one.
 */
export function reprValue(v: PyValue | undefined): string {
  if (v === undefined) return 'missing';
  const out: string[] = [];
  let length = 0;
  const emit = (s: string): boolean => {
    out.push(s);
    length += s.length;
    return length < MAX_REPR;
  };
  const walk = (x: PyValue): boolean => {
    if (x === null) return emit('None');
    if (typeof x === 'boolean') return emit(x ? 'True' : 'False');
    if (typeof x === 'number' || typeof x === 'bigint') return emit(String(x));
    if (typeof x === 'string') return emit(quote(x, MAX_REPR));
    if (x instanceof PyFloat) return emit(pyFloat(x.value));
    if (!(x instanceof PyTuple)) return emit(typeName(x));
    if (!emit('(')) return false;
    for (let i = 0; i < x.items.length; i++) {
      if (i > 0 && !emit(', ')) return false;
      if (!walk(x.items[i] as PyValue)) return false;
    }
    return emit(x.items.length === 1 ? ',)' : ')');
  };
  return walk(v) ? out.join('') : `${out.join('').slice(0, MAX_REPR)}…`;
}
