// A pickle reader that never executes anything.
//
// Python's pickle is a small stack machine whose GLOBAL/REDUCE/BUILD opcodes normally import and
// call arbitrary code. Here every global is looked up in an allowlist supplied by the caller; each
// entry is a handler that builds a plain value. A name that is not listed aborts the load at the
// GLOBAL opcode, before anything after it is interpreted. Every length read from the stream is
// checked against the bytes that remain before anything is allocated, and the memo, the stack and
// MARK nesting are bounded, so a hostile stream cannot exhaust memory or recurse.

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

export interface PickleLimits {
  maxMemo: number;
  maxStack: number;
  maxMarks: number;
  /** Items in one list, dict or set. */
  maxContainer: number;
  /** Bytes of one LONG1/LONG4 integer. */
  maxLongBytes: number;
  /** Bytes of one str/bytes object (also always bounded by the bytes left in the stream). */
  maxStringBytes: number;
}

export const DEFAULT_LIMITS: PickleLimits = {
  maxMemo: 4_000_000,
  maxStack: 1_000_000,
  maxMarks: 10_000,
  maxContainer: 50_000_000,
  maxLongBytes: 256,
  maxStringBytes: 1 << 30,
};

export interface UnpickleOptions {
  globals: Allowlist;
  /** BINPERSID: resolve a persistent id. Without it, a persistent id is an error. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /**
   * How Python 2 `str` (BINSTRING/SHORT_BINSTRING) is decoded, like pickle's `encoding=`:
   * 'bytes' keeps the bytes, 'latin1' maps byte n to U+00nn, 'utf8' decodes UTF-8 (torch's choice).
   */
  py2Strings?: 'bytes' | 'latin1' | 'utf8';
  limits?: Partial<PickleLimits>;
}

export interface UnpickleResult {
  value: PyValue;
  /** The PROTO operand, or 0..1 style streams reported as 1 (no PROTO opcode). */
  protocol: number;
  /** Offset just after STOP. */
  end: number;
  /** Allowed globals the stream referenced, as `module.name`, in first-use order. */
  globals: string[];
}

/** Every error the VM raises: one line, ending with the byte offset where it stopped. */
export class PickleError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'PickleError';
  }
}

/** A global outside the allowlist. Raised at the GLOBAL opcode, so nothing later ran. */
export class UnsafePickleError extends PickleError {
  constructor(readonly global: string, opcode: string, offset: number) {
    super(`refusing to load: ${opcode} '${global}' is not allowed (nothing was executed)`, offset);
    this.name = 'UnsafePickleError';
  }
}

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

const utf8 = new TextDecoder('utf-8', { fatal: true });


/** Run one pickle from `offset` to its STOP. */
export function runPickle(bytes: Uint8Array, opts: UnpickleOptions, offset = 0): UnpickleResult {
  return new Machine(bytes, opts, offset).run();
}

/** Unpickle a whole stream and return its value. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): PyValue {
  return runPickle(bytes, opts).value;
}

class Machine {
  private pos: number;
  private op = 0; // offset of the opcode being executed, for messages
  private readonly view: DataView;
  private readonly limits: PickleLimits;
  // MARKs are kept apart, as stack heights in `marks`, so the stack holds only values.
  private readonly stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly globalsSeen = new Set<string>();
  private protocol = 1;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly opts: UnpickleOptions,
    offset: number,
  ) {
    this.pos = offset;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  run(): UnpickleResult {
    try {
      return this.loop();
    } catch (e) {
      if (e instanceof PickleError) throw e;
      if (e instanceof PickleContentError) throw new PickleError(`${e.message} (pickle byte ${this.op})`, this.op);
      // Handler argument errors, invalid UTF-8 and the like: same one-line shape, with the offset.
      const msg = e instanceof Error ? e.message : String(e);
      throw new PickleError(`malformed pickle (${msg}) at byte ${this.op}`, this.op);
    }
  }

  private fail(msg: string): never {
    throw new PickleError(`malformed pickle (${msg}) at byte ${this.op}`, this.op);
  }

  private need(n: number): void {
    if (n > this.bytes.length - this.pos) {
      throw new PickleError(`truncated pickle at byte ${this.op}`, this.op);
    }
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++] as number;
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** u64 length; anything beyond the stream is reported as truncation rather than overflowing. */
  private u64len(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  private take(n: number): Uint8Array {
    this.need(n);
    if (n > this.limits.maxStringBytes) this.fail(`object of ${n} bytes exceeds the limit`);
    const s = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  private line(): string {
    const maxLine = 1024;
    const window = this.bytes.subarray(this.pos, this.pos + maxLine + 1);
    const len = window.indexOf(0x0a);
    if (len < 0) {
      if (window.length <= maxLine) throw new PickleError(`truncated pickle at byte ${this.op}`, this.op);
      this.fail('GLOBAL name too long');
    }
    const end = this.pos + len;
    const s = utf8.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  private push(v: PyValue): void {
    if (this.stack.length >= this.limits.maxStack) this.fail('stack too deep');
    this.stack.push(v);
  }

  private pop(): PyValue {
    const floor = this.marks.length ? (this.marks[this.marks.length - 1] as number) : 0;
    if (this.stack.length <= floor) this.fail('stack underflow');
    return this.stack.pop() as PyValue;
  }

  private top(): PyValue {
    const floor = this.marks.length ? (this.marks[this.marks.length - 1] as number) : 0;
    if (this.stack.length <= floor) this.fail('stack underflow');
    return this.stack[this.stack.length - 1] as PyValue;
  }

  /** Pop everything above the last MARK, and the MARK. */
  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail('no MARK on the stack');
    return this.stack.splice(m);
  }

  private memoPut(i: number): void {
    if (!this.memo.has(i) && this.memo.size >= this.limits.maxMemo) this.fail('memo too large');
    this.memo.set(i, this.top());
  }

  private memoGet(i: number): void {
    const v = this.memo.get(i);
    if (v === undefined) this.fail(`memo ${i} unset`);
    this.push(v);
  }

  private resolveGlobal(module: string, name: string, opcode: string): PyGlobal {
    const key = `${module} ${name}`;
    const handler = this.opts.globals.get(key);
    if (handler === undefined) throw new UnsafePickleError(key, opcode, this.op);
    this.globalsSeen.add(`${module}.${name}`);
    return new PyGlobal(module, name, handler);
  }

  private checkSize(n: number): void {
    if (n > this.limits.maxContainer) this.fail('container too large');
  }

  private decodePy2(b: Uint8Array): PyValue {
    switch (this.opts.py2Strings ?? 'utf8') {
      case 'bytes':
        return b.slice();
      case 'latin1':
        return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
      case 'utf8':
        return utf8.decode(b);
    }
  }

  private longFrom(b: Uint8Array): number | bigint {
    if (b.length === 0) return 0;
    if (b.length > this.limits.maxLongBytes) this.fail(`integer of ${b.length} bytes exceeds the limit`);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
    if (((b[b.length - 1] as number) & 0x80) !== 0) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private loop(): UnpickleResult {
    const bytes = this.bytes;
    for (;;) {
      this.op = this.pos;
      if (this.pos >= bytes.length) throw new PickleError(`truncated pickle at byte ${this.op}`, this.op);
      const code = bytes[this.pos++] as number;
      switch (code) {
        case 0x80: { // PROTO
          const p = this.u8();
          if (p > 5) this.fail(`unsupported pickle protocol ${p}`);
          this.protocol = p;
          break;
        }
        case 0x95: { // FRAME: a length hint only
          const n = this.u64len();
          this.need(n);
          break;
        }
        case 0x2e: { // STOP
          if (this.marks.length !== 0 || this.stack.length !== 1) this.fail('STOP with a stack that is not a single value');
          return { value: this.stack[0] as PyValue, protocol: this.protocol, end: this.pos, globals: [...this.globalsSeen] };
        }
        case 0x28: // MARK
          if (this.marks.length >= this.limits.maxMarks) this.fail('MARKs nested too deeply');
          this.marks.push(this.stack.length);
          break;
        case 0x30: { // POP: pops the top item, or the MARK itself when nothing is above it
          const floor = this.marks.length ? (this.marks[this.marks.length - 1] as number) : 0;
          if (this.stack.length > floor) this.stack.pop();
          else this.popMark();
          break;
        }
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;

        case 0x4e: this.push(null); break; // NONE
        case 0x88: this.push(true); break; // NEWTRUE
        case 0x89: this.push(false); break; // NEWFALSE
        case 0x4b: this.push(this.u8()); break; // BININT1
        case 0x4d: this.push(this.u16()); break; // BININT2
        case 0x4a: this.push(this.i32()); break; // BININT
        case 0x8a: this.push(this.longFrom(this.take(this.u8()))); break; // LONG1
        case 0x8b: { // LONG4
          const n = this.i32();
          if (n < 0) this.fail('negative LONG4 length');
          if (n > this.limits.maxLongBytes) this.fail(`integer of ${n} bytes exceeds the limit`);
          this.push(this.longFrom(this.take(n)));
          break;
        }
        case 0x47: { // BINFLOAT (big-endian)
          this.need(8);
          const v = this.view.getFloat64(this.pos, false);
          this.pos += 8;
          this.push(new PyFloat(v));
          break;
        }

        case 0x58: this.push(utf8.decode(this.take(this.u32()))); break; // BINUNICODE
        case 0x8c: this.push(utf8.decode(this.take(this.u8()))); break; // SHORT_BINUNICODE
        case 0x8d: this.push(utf8.decode(this.take(this.u64len()))); break; // BINUNICODE8
        case 0x42: this.push(this.take(this.u32()).slice()); break; // BINBYTES
        case 0x43: this.push(this.take(this.u8()).slice()); break; // SHORT_BINBYTES
        case 0x8e: this.push(this.take(this.u64len()).slice()); break; // BINBYTES8
        case 0x96: this.push(this.take(this.u64len()).slice()); break; // BYTEARRAY8 (read as bytes)
        case 0x54: { // BINSTRING
          const n = this.i32();
          if (n < 0) this.fail('negative BINSTRING length');
          this.push(this.decodePy2(this.take(n)));
          break;
        }
        case 0x55: this.push(this.decodePy2(this.take(this.u8()))); break; // SHORT_BINSTRING

        case 0x29: this.push(new PyTuple([])); break; // EMPTY_TUPLE
        case 0x74: this.push(new PyTuple(this.popMark())); break; // TUPLE
        case 0x85: { // TUPLE1
          const a = this.pop();
          this.push(new PyTuple([a]));
          break;
        }
        case 0x86: { // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.push(new PyTuple([a, b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push(new PyTuple([a, b, c]));
          break;
        }
        case 0x5d: this.push(new PyList()); break; // EMPTY_LIST
        case 0x6c: { // LIST
          const items = this.popMark();
          this.checkSize(items.length);
          const l = new PyList();
          l.items.push(...items);
          this.push(l);
          break;
        }
        case 0x7d: this.push(new PyDict(false)); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = this.popMark();
          if (items.length % 2 !== 0) this.fail('odd number of items for DICT');
          this.checkSize(items.length / 2);
          const d = new PyDict(false);
          for (let i = 0; i < items.length; i += 2) d.set(items[i] as PyValue, items[i + 1] as PyValue);
          this.push(d);
          break;
        }
        case 0x8f: this.push(new PySet(false)); break; // EMPTY_SET
        case 0x91: { // FROZENSET
          const items = this.popMark();
          this.checkSize(items.length);
          const s = new PySet(true);
          for (const it of items) s.add(it);
          this.push(s);
          break;
        }

        case 0x61: { // APPEND
          const v = this.pop();
          this.appendTo(this.top(), [v]);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          this.appendTo(this.top(), items);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          if (items.length % 2 !== 0) this.fail('odd number of items for SETITEMS');
          this.setItems(this.top(), items);
          break;
        }
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof PySet) || s.frozen) this.fail(`ADDITEMS on ${typeName(s)}`);
          this.checkSize(s.items.length + items.length);
          for (const it of items) s.add(it);
          break;
        }

        case 0x71: this.memoPut(this.u8()); break; // BINPUT
        case 0x72: this.memoPut(this.u32()); break; // LONG_BINPUT
        case 0x94: this.memoPut(this.memo.size); break; // MEMOIZE
        case 0x68: this.memoGet(this.u8()); break; // BINGET
        case 0x6a: this.memoGet(this.u32()); break; // LONG_BINGET

        case 0x63: { // GLOBAL
          const module = this.line();
          const name = this.line();
          this.push(this.resolveGlobal(module, name, 'GLOBAL'));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two str');
          this.push(this.resolveGlobal(module, name, 'STACK_GLOBAL'));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const fn = this.pop();
          if (!(args instanceof PyTuple)) this.fail(`REDUCE arguments are ${typeName(args)}, not a tuple`);
          if (!(fn instanceof PyGlobal) || fn.handler.call === undefined) this.fail(`REDUCE on ${typeName(fn)} is not allowed`);
          this.push(fn.handler.call(args.items));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.push(this.newObject(cls, args));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof PyDict) || kwargs.size !== 0) this.fail('NEWOBJ_EX with keyword arguments');
          this.push(this.newObject(cls, args));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          const obj = this.top();
          if (obj instanceof PyDict) {
            // OrderedDict instance attributes, e.g. a state_dict's _metadata.
            if (!(state instanceof PyDict)) this.fail(`BUILD of ${typeName(obj)} with ${typeName(state)}`);
            obj.attrs ??= new PyDict(false);
            for (const [k, v] of state.entries()) obj.attrs.set(k, v);
          } else if (obj instanceof PyObject && obj.setState !== undefined) {
            obj.setState(state);
          } else {
            this.fail(`BUILD on ${typeName(obj)} is not allowed`);
          }
          break;
        }
        case 0x51: { // BINPERSID
          const pid = this.pop();
          if (this.opts.persistentLoad === undefined) this.fail('persistent id in a stream that has none');
          this.push(this.opts.persistentLoad(pid));
          break;
        }

        case 0x97: case 0x98: // NEXT_BUFFER, READONLY_BUFFER
          this.fail('out-of-band buffers are not supported');
        default:
          throw new PickleError(`unsupported pickle opcode 0x${code.toString(16).padStart(2, '0')} at byte ${this.op}`, this.op);
      }
    }
  }

  private newObject(cls: PyValue, args: PyValue): PyValue {
    if (!(args instanceof PyTuple)) this.fail(`NEWOBJ arguments are ${typeName(args)}, not a tuple`);
    if (!(cls instanceof PyGlobal) || cls.handler.newObject === undefined) this.fail(`NEWOBJ on ${typeName(cls)} is not allowed`);
    return cls.handler.newObject(args.items);
  }

  private appendTo(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyList)) this.fail(`APPEND to ${typeName(target)}`);
    this.checkSize(target.items.length + items.length);
    for (const it of items) target.items.push(it);
  }

  private setItems(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyDict)) this.fail(`SETITEM on ${typeName(target)}`);
    this.checkSize(target.size + items.length / 2);
    for (let i = 0; i < items.length; i += 2) target.set(items[i] as PyValue, items[i + 1] as PyValue);
  }
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

function call(fn: (args: readonly PyValue[]) => PyValue): GlobalHandler {
  return { call: fn };
}

/** `set(list)` / `frozenset(list)` as protocol 2 writes them (the constructor REDUCEd with one list). */
function setFrom(frozen: boolean): GlobalHandler {
  return call((args) => {
    const s = new PySet(frozen);
    if (args.length === 0) return s;
    const src = args[0];
    if (args.length !== 1 || !(src instanceof PyList || src instanceof PyTuple)) {
      throw new PickleValueError(`${frozen ? 'frozenset' : 'set'}() takes one list`);
    }
    for (const it of src.items) s.add(it);
    return s;
  });
}

/** Protocol < 3 writes Python 3 bytes as `_codecs.encode(text, 'latin1')`. */
function latin1Encode(args: readonly PyValue[]): PyValue {
  const [text, enc] = args;
  if (args.length !== 2 || typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) {
    throw new PickleValueError("_codecs.encode is allowed only as encode(str, 'latin1')");
  }
  // Buffer's latin1 encoder drops the high byte silently; Python would raise instead.
  if (/[^\x00-\xff]/.test(text)) throw new PickleValueError('_codecs.encode: text is not latin1');
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** Protocol < 3 writes an empty bytes object as `bytes()`. */
function emptyBytes(args: readonly PyValue[]): PyValue {
  if (args.length !== 0) throw new PickleValueError('bytes() is allowed only without arguments');
  return new Uint8Array(0);
}

/** Containers and bytes, the Python globals that both torch and numpy streams use. */
export const PYTHON_GLOBALS: Allowlist = new Map<string, GlobalHandler>([
  ['collections OrderedDict', call((args) => {
    if (args.length !== 0) throw new PickleValueError('OrderedDict() takes no arguments here');
    return new PyDict(true);
  })],
  ['__builtin__ set', setFrom(false)],
  ['builtins set', setFrom(false)],
  ['__builtin__ frozenset', setFrom(true)],
  ['builtins frozenset', setFrom(true)],
  ['_codecs encode', call(latin1Encode)],
  ['__builtin__ bytes', call(emptyBytes)],
  ['builtins bytes', call(emptyBytes)],
]);

/** Several allowlists as one. */
export function combineAllowlists(...lists: Allowlist[]): Allowlist {
  return new Map(lists.flatMap((l) => [...l]));
}
