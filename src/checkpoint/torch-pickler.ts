// A protocol-2 pickle writer that emits what CPython's pickler emits for torch objects, memo
// numbering included (docs/checkpoint-format.md §11.2), so that files come out byte-identical
// to torch.save. Values are emitted through closures in the order Python would visit them.

import { bytesOf, numel, shapeString, type Tensor } from '../tensor.js';
import { Op } from './pickle-opcodes.js';
import { contiguousStrides } from './strided.js';
import { STORAGE_CLASS } from './torch-objects.js';

/** How a value is emitted; called exactly once, in stream order. */
export type Emit = () => void;

/** A dict entry. `fresh` keys are new string objects in Python (storage keys, Sequential child
 * names), which the pickler cannot share with an equal earlier string. */
export interface Item {
  key: string;
  fresh?: boolean;
  value: Emit;
}

const BATCH = 1000;
/** TUPLE1..TUPLE3 by item count. */
const TUPLE_N = [undefined, Op.TUPLE1, Op.TUPLE2, Op.TUPLE3] as const;

class ByteSink {
  private buf = new Uint8Array(1 << 16);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(...bs: number[]): void {
    this.room(bs.length);
    for (const b of bs) this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  u16(v: number): void {
    this.byte(v & 0xff, (v >>> 8) & 0xff);
  }

  u32(v: number): void {
    this.byte(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** The storages a pickle refers to, keyed "0", "1", ... in first-use order. */
export interface PickledStorage {
  key: string;
  data: Uint8Array;
}

export class TorchPickler {
  private readonly out = new ByteSink();
  private memoSize = 0;
  private readonly strings = new Map<string, number>();
  private readonly globals = new Map<string, number>();
  readonly storages: PickledStorage[] = [];

  constructor() {
    this.out.byte(Op.PROTO, 2);
  }

  finish(): Uint8Array {
    this.out.byte(Op.STOP);
    return this.out.result();
  }

  private put(): void {
    const i = this.memoSize++;
    if (i < 256) this.out.byte(Op.BINPUT, i);
    else {
      this.out.byte(Op.LONG_BINPUT);
      this.out.u32(i);
    }
  }

  private get(i: number): void {
    if (i < 256) this.out.byte(Op.BINGET, i);
    else {
      this.out.byte(Op.LONG_BINGET);
      this.out.u32(i);
    }
  }

  str(s: string, fresh = false): void {
    const seen = fresh ? undefined : this.strings.get(s);
    if (seen !== undefined) return this.get(seen);
    const b = Buffer.from(s, 'utf8');
    this.out.byte(Op.BINUNICODE);
    this.out.u32(b.length);
    this.out.bytes(b);
    if (!fresh) this.strings.set(s, this.memoSize);
    this.put();
  }

  global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const seen = this.globals.get(key);
    if (seen !== undefined) return this.get(seen);
    this.out.byte(Op.GLOBAL);
    this.out.bytes(Buffer.from(`${key}\n`, 'utf8'));
    this.globals.set(key, this.memoSize);
    this.put();
  }

  int(n: number): void {
    if (!Number.isSafeInteger(n)) throw new Error(`cannot pickle ${n} as an int`);
    if (n >= 0 && n <= 0xff) this.out.byte(Op.BININT1, n);
    else if (n >= 0 && n <= 0xffff) {
      this.out.byte(Op.BININT2);
      this.out.u16(n);
    } else if (n >= -0x80000000 && n <= 0x7fffffff) {
      this.out.byte(Op.BININT);
      this.out.u32(n >>> 0);
    } else {
      // LONG1: minimal little-endian two's complement.
      const bytes: number[] = [];
      let v = BigInt(n);
      for (;;) {
        const b = Number(v & 0xffn);
        bytes.push(b);
        v >>= 8n;
        if ((v === 0n && (b & 0x80) === 0) || (v === -1n && (b & 0x80) !== 0)) break;
      }
      this.out.byte(Op.LONG1, bytes.length, ...bytes);
    }
  }

  float(x: number): void {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(x);
    this.out.byte(Op.BINFLOAT);
    this.out.bytes(b);
  }

  bool(b: boolean): void {
    this.out.byte(b ? Op.NEWTRUE : Op.NEWFALSE);
  }

  none(): void {
    this.out.byte(Op.NONE);
  }

  tuple(items: readonly Emit[]): void {
    if (items.length === 0) return this.out.byte(Op.EMPTY_TUPLE); // never memoized
    if (items.length <= 3) {
      for (const e of items) e();
      this.out.byte(TUPLE_N[items.length] as number);
    } else {
      this.out.byte(Op.MARK);
      for (const e of items) e();
      this.out.byte(Op.TUPLE);
    }
    this.put();
  }

  intTuple(ns: readonly number[]): void {
    this.tuple(ns.map((n) => () => this.int(n)));
  }

  private setItems(items: readonly Item[]): void {
    for (let i = 0; i < items.length; i += BATCH) {
      const batch = items.slice(i, i + BATCH);
      if (batch.length > 1) this.out.byte(Op.MARK);
      for (const it of batch) {
        this.str(it.key, it.fresh);
        it.value();
      }
      this.out.byte(batch.length > 1 ? Op.SETITEMS : Op.SETITEM);
    }
  }

  dict(items: readonly Item[]): void {
    this.out.byte(Op.EMPTY_DICT);
    this.put();
    this.setItems(items);
  }

  orderedDict(items: readonly Item[]): void {
    this.global('collections', 'OrderedDict');
    this.out.byte(Op.EMPTY_TUPLE, Op.REDUCE);
    this.put();
    this.setItems(items);
  }

  /** `set()`: protocol 2 spells it `__builtin__.set([])`. */
  emptySet(): void {
    this.global('__builtin__', 'set');
    this.out.byte(Op.EMPTY_LIST);
    this.put();
    this.out.byte(Op.TUPLE1);
    this.put();
    this.out.byte(Op.REDUCE);
    this.put();
  }

  /** `cls.__new__(cls)` followed by BUILD with the instance dict, as for any nn.Module. */
  object(module: string, name: string, state: readonly Item[]): void {
    this.global(module, name);
    this.out.byte(Op.EMPTY_TUPLE, Op.NEWOBJ);
    this.put();
    this.dict(state);
    this.out.byte(Op.BUILD);
  }

  /** A tensor as `_rebuild_tensor_v2(storage, 0, size, stride, requires_grad, OrderedDict())`. */
  tensor(t: Tensor, requiresGrad = false): void {
    const n = numel(t.shape);
    if (n !== t.data.length) throw new Error(`tensor of shape ${shapeString(t.shape)} holds ${t.data.length} elements`);
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.tuple([
      () => this.storage(t, n),
      () => this.int(0),
      () => this.intTuple(t.shape),
      () => this.intTuple(contiguousStrides(t.shape)),
      () => this.bool(requiresGrad),
      () => this.orderedDict([]),
    ]);
    this.out.byte(Op.REDUCE);
    this.put();
  }

  /** The persistent id ('storage', class, key, 'cpu', numel); the bytes become record data/<key>. */
  private storage(t: Tensor, n: number): void {
    const key = String(this.storages.length);
    this.storages.push({ key, data: bytesOf(t.data) });
    this.tuple([
      () => this.str('storage'),
      () => this.global('torch', STORAGE_CLASS[t.dtype]),
      () => this.str(key, true),
      () => this.str('cpu'),
      () => this.int(n),
    ]);
    this.out.byte(Op.BINPERSID); // not memoized
  }

  /** An nn.Parameter as `_rebuild_parameter(tensor, requires_grad, OrderedDict())`. */
  parameter(t: Tensor, requiresGrad: boolean): void {
    this.global('torch._utils', '_rebuild_parameter');
    this.tuple([() => this.tensor(t, false), () => this.bool(requiresGrad), () => this.orderedDict([])]);
    this.out.byte(Op.REDUCE);
    this.put();
  }
}
