// The pickle machine: a reader that never executes anything (docs/checkpoint-format.md §6).
//
// Python's pickle is a small stack machine whose GLOBAL/REDUCE/BUILD opcodes normally import and
// call arbitrary code. Here every global is looked up in an allowlist supplied by the caller; each
// entry is a handler that builds a plain value (pickle-values.ts). A name that is not listed aborts
// the load at the GLOBAL opcode, before anything after it is interpreted. Every length read from
// the stream is checked against the bytes that remain before anything is allocated; the memo, the
// stack and MARK nesting are bounded, so nothing recurses; and every opcode is a step and every
// object built is charged to the read's budget (budget.ts), so no stream costs more than it allows.

import { quote } from '../quote.js';
import { BudgetError, ReadBudget } from './budget.js';
import { Op, describeOpcode } from './pickle-opcodes.js';
import {
  EMPTY_TUPLE,
  PickleContentError,
  PyDict,
  PyFloat,
  PyGlobal,
  PyList,
  PyObject,
  PySet,
  PyTuple,
  typeName,
  type Allowlist,
  type HandlerContext,
  type PyValue,
} from './pickle-values.js';

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
  /** What the whole read may spend; shared by every pickle of one file. A fresh default budget when absent. */
  budget?: ReadBudget;
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
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'PickleError';
  }
}

/** A global outside the allowlist. Raised at the GLOBAL opcode, so nothing later ran. */
export class UnsafePickleError extends PickleError {
  constructor(
    readonly global: string,
    opcode: string,
    offset: number,
  ) {
    super(`refusing to load: ${opcode} ${quote(global)} is not allowed (nothing was executed)`, offset);
    this.name = 'UnsafePickleError';
  }
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
  private readonly budget: ReadBudget;
  private readonly ctx: HandlerContext;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly opts: UnpickleOptions,
    offset: number,
  ) {
    this.pos = offset;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.budget = opts.budget ?? new ReadBudget();
    this.ctx = { budget: this.budget };
  }

  run(): UnpickleResult {
    try {
      return this.loop();
    } catch (e) {
      if (e instanceof PickleError) throw e;
      if (e instanceof PickleContentError || e instanceof BudgetError)
        throw new PickleError(`${e.message} (pickle byte ${this.op})`, this.op);
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

  private hold(bytes: number): void {
    this.budget.hold(bytes, 'the pickle');
  }

  private build(n: number): void {
    this.budget.build(n);
  }

  private str(b: Uint8Array): string {
    this.build(1);
    this.hold(2 * b.length);
    return utf8.decode(b);
  }

  private bytesValue(b: Uint8Array): Uint8Array {
    this.build(1);
    this.hold(b.length);
    return b.slice();
  }

  private tuple(items: PyValue[]): PyTuple {
    this.build(1 + items.length);
    return new PyTuple(items);
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
    if (!this.memo.has(i)) {
      if (this.memo.size >= this.limits.maxMemo) this.fail('memo too large');
      this.build(1);
    }
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
    this.build(1);
    return new PyGlobal(module, name, handler);
  }

  private checkSize(n: number): void {
    if (n > this.limits.maxContainer) this.fail('container too large');
  }

  private decodePy2(b: Uint8Array): PyValue {
    switch (this.opts.py2Strings ?? 'utf8') {
      case 'bytes':
        return this.bytesValue(b);
      case 'latin1':
        this.build(1);
        this.hold(2 * b.length);
        return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
      case 'utf8':
        return this.str(b);
    }
  }

  private longFrom(b: Uint8Array): number | bigint {
    if (b.length === 0) return 0;
    if (b.length > this.limits.maxLongBytes) this.fail(`integer of ${b.length} bytes exceeds the limit`);
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
    if (((b[b.length - 1] as number) & 0x80) !== 0) v -= 1n << BigInt(8 * b.length);
    this.build(1);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private loop(): UnpickleResult {
    const bytes = this.bytes;
    for (;;) {
      this.op = this.pos;
      if (this.pos >= bytes.length) throw new PickleError(`truncated pickle at byte ${this.op}`, this.op);
      const code = bytes[this.pos++] as number;
      this.budget.step(1);
      switch (code) {
        case Op.PROTO: {
          const p = this.u8();
          if (p > 5) this.fail(`unsupported pickle protocol ${p}`);
          this.protocol = p;
          break;
        }
        case Op.FRAME: {
          // a length hint only
          const n = this.u64len();
          this.need(n);
          break;
        }
        case Op.STOP: {
          if (this.marks.length !== 0 || this.stack.length !== 1) this.fail('STOP with a stack that is not a single value');
          return { value: this.stack[0] as PyValue, protocol: this.protocol, end: this.pos, globals: [...this.globalsSeen] };
        }
        case Op.MARK:
          if (this.marks.length >= this.limits.maxMarks) this.fail('MARKs nested too deeply');
          this.marks.push(this.stack.length);
          break;
        case Op.POP: {
          // pops the top item, or the MARK itself when nothing is above it
          const floor = this.marks.length ? (this.marks[this.marks.length - 1] as number) : 0;
          if (this.stack.length > floor) this.stack.pop();
          else this.popMark();
          break;
        }
        case Op.POP_MARK:
          this.popMark();
          break;
        case Op.DUP:
          this.push(this.top());
          break;

        case Op.NONE:
          this.push(null);
          break;
        case Op.NEWTRUE:
          this.push(true);
          break;
        case Op.NEWFALSE:
          this.push(false);
          break;
        case Op.BININT1:
          this.push(this.u8());
          break;
        case Op.BININT2:
          this.push(this.u16());
          break;
        case Op.BININT:
          this.push(this.i32());
          break;
        case Op.LONG1:
          this.push(this.longFrom(this.take(this.u8())));
          break;
        case Op.LONG4: {
          const n = this.i32();
          if (n < 0) this.fail('negative LONG4 length');
          if (n > this.limits.maxLongBytes) this.fail(`integer of ${n} bytes exceeds the limit`);
          this.push(this.longFrom(this.take(n)));
          break;
        }
        case Op.BINFLOAT: {
          // big-endian
          this.need(8);
          const v = this.view.getFloat64(this.pos, false);
          this.pos += 8;
          this.build(1);
          this.push(new PyFloat(v));
          break;
        }

        case Op.BINUNICODE:
          this.push(this.str(this.take(this.u32())));
          break;
        case Op.SHORT_BINUNICODE:
          this.push(this.str(this.take(this.u8())));
          break;
        case Op.BINUNICODE8:
          this.push(this.str(this.take(this.u64len())));
          break;
        case Op.BINBYTES:
          this.push(this.bytesValue(this.take(this.u32())));
          break;
        case Op.SHORT_BINBYTES:
          this.push(this.bytesValue(this.take(this.u8())));
          break;
        case Op.BINBYTES8:
          this.push(this.bytesValue(this.take(this.u64len())));
          break;
        case Op.BYTEARRAY8:
          this.push(this.bytesValue(this.take(this.u64len())));
          break; // read as bytes
        case Op.BINSTRING: {
          const n = this.i32();
          if (n < 0) this.fail('negative BINSTRING length');
          this.push(this.decodePy2(this.take(n)));
          break;
        }
        case Op.SHORT_BINSTRING:
          this.push(this.decodePy2(this.take(this.u8())));
          break;

        case Op.EMPTY_TUPLE:
          this.push(EMPTY_TUPLE);
          break;
        case Op.TUPLE:
          this.push(this.tuple(this.popMark()));
          break;
        case Op.TUPLE1: {
          const a = this.pop();
          this.push(this.tuple([a]));
          break;
        }
        case Op.TUPLE2: {
          const b = this.pop();
          const a = this.pop();
          this.push(this.tuple([a, b]));
          break;
        }
        case Op.TUPLE3: {
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push(this.tuple([a, b, c]));
          break;
        }
        case Op.EMPTY_LIST:
          this.build(1);
          this.push(new PyList());
          break;
        case Op.LIST: {
          const items = this.popMark();
          this.checkSize(items.length);
          this.build(1 + items.length);
          this.push(new PyList(items));
          break;
        }
        case Op.EMPTY_DICT:
          this.build(1);
          this.push(new PyDict(false));
          break;
        case Op.DICT: {
          const items = this.popMark();
          if (items.length % 2 !== 0) this.fail('odd number of items for DICT');
          this.checkSize(items.length / 2);
          this.build(1);
          const d = new PyDict(false);
          this.setItems(d, items);
          this.push(d);
          break;
        }
        case Op.EMPTY_SET:
          this.build(1);
          this.push(new PySet(false));
          break;
        case Op.FROZENSET: {
          const items = this.popMark();
          this.checkSize(items.length);
          this.build(1);
          const s = new PySet(true);
          this.addItems(s, items);
          this.push(s);
          break;
        }

        case Op.APPEND: {
          const v = this.pop();
          const target = this.top();
          if (!(target instanceof PyList)) this.fail(`APPEND to ${typeName(target)}`);
          this.checkSize(target.items.length + 1);
          this.build(1);
          target.items.push(v);
          break;
        }
        case Op.APPENDS: {
          const items = this.popMark();
          this.appendTo(this.top(), items);
          break;
        }
        case Op.SETITEM: {
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case Op.SETITEMS: {
          const items = this.popMark();
          if (items.length % 2 !== 0) this.fail('odd number of items for SETITEMS');
          this.setItems(this.top(), items);
          break;
        }
        case Op.ADDITEMS: {
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof PySet) || s.frozen) this.fail(`ADDITEMS on ${typeName(s)}`);
          this.checkSize(s.items.length + items.length);
          this.addItems(s, items);
          break;
        }

        case Op.BINPUT:
          this.memoPut(this.u8());
          break;
        case Op.LONG_BINPUT:
          this.memoPut(this.u32());
          break;
        case Op.MEMOIZE:
          this.memoPut(this.memo.size);
          break;
        case Op.BINGET:
          this.memoGet(this.u8());
          break;
        case Op.LONG_BINGET:
          this.memoGet(this.u32());
          break;

        case Op.GLOBAL: {
          const module = this.line();
          const name = this.line();
          this.push(this.resolveGlobal(module, name, 'GLOBAL'));
          break;
        }
        case Op.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two str');
          this.push(this.resolveGlobal(module, name, 'STACK_GLOBAL'));
          break;
        }
        case Op.REDUCE: {
          const args = this.pop();
          const fn = this.pop();
          if (!(args instanceof PyTuple)) this.fail(`REDUCE arguments are ${typeName(args)}, not a tuple`);
          if (!(fn instanceof PyGlobal) || fn.handler.call === undefined) this.fail(`REDUCE on ${typeName(fn)} is not allowed`);
          this.build(1);
          this.push(fn.handler.call(args.items, this.ctx));
          break;
        }
        case Op.NEWOBJ: {
          const args = this.pop();
          const cls = this.pop();
          this.push(this.newObject(cls, args));
          break;
        }
        case Op.NEWOBJ_EX: {
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof PyDict) || kwargs.size !== 0) this.fail('NEWOBJ_EX with keyword arguments');
          this.push(this.newObject(cls, args));
          break;
        }
        case Op.BUILD: {
          const state = this.pop();
          const obj = this.top();
          if (obj instanceof PyDict) {
            // OrderedDict instance attributes, e.g. a state_dict's _metadata.
            if (!(state instanceof PyDict)) this.fail(`BUILD of ${typeName(obj)} with ${typeName(state)}`);
            if (obj.attrs === null) {
              this.build(1);
              obj.attrs = new PyDict(false);
            }
            // The same state may be applied many times (a memoized dict): the copy is work each time.
            this.budget.step(state.size);
            for (const [k, v] of state.entries()) if (obj.attrs.set(k, v)) this.build(1);
          } else if (obj instanceof PyObject && obj.setState !== undefined) {
            obj.setState(state, this.ctx);
          } else {
            this.fail(`BUILD on ${typeName(obj)} is not allowed`);
          }
          break;
        }
        case Op.BINPERSID: {
          const pid = this.pop();
          if (this.opts.persistentLoad === undefined) this.fail('persistent id in a stream that has none');
          this.build(1);
          this.push(this.opts.persistentLoad(pid));
          break;
        }

        case Op.NEXT_BUFFER:
        case Op.READONLY_BUFFER:
          return this.fail('out-of-band buffers are not supported');
        default:
          throw new PickleError(`unsupported pickle opcode ${describeOpcode(code)} at byte ${this.op}`, this.op);
      }
    }
  }

  private newObject(cls: PyValue, args: PyValue): PyValue {
    if (!(args instanceof PyTuple)) this.fail(`NEWOBJ arguments are ${typeName(args)}, not a tuple`);
    if (!(cls instanceof PyGlobal) || cls.handler.newObject === undefined) this.fail(`NEWOBJ on ${typeName(cls)} is not allowed`);
    this.build(1);
    return cls.handler.newObject(args.items, this.ctx);
  }

  private appendTo(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyList)) this.fail(`APPEND to ${typeName(target)}`);
    this.checkSize(target.items.length + items.length);
    this.build(items.length);
    const list = target.items;
    for (let i = 0; i < items.length; i++) list.push(items[i] as PyValue);
  }

  private setItems(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyDict)) this.fail(`SETITEM on ${typeName(target)}`);
    this.checkSize(target.size + items.length / 2);
    for (let i = 0; i < items.length; i += 2) {
      if (target.set(items[i] as PyValue, items[i + 1] as PyValue)) this.build(1);
    }
  }

  private addItems(target: PySet, items: PyValue[]): void {
    for (const it of items) if (target.add(it)) this.build(1);
  }
}
