// The Python builtins that torch and numpy pickles name: containers and bytes
// (docs/checkpoint-format.md §6.4, §9), as allowlist entries that build plain values.

import {
  PickleValueError,
  PyDict,
  PyList,
  PySet,
  PyTuple,
  type Allowlist,
  type GlobalHandler,
  type HandlerContext,
  type PyValue,
} from './pickle-values.js';

function call(fn: (args: readonly PyValue[], ctx: HandlerContext) => PyValue): GlobalHandler {
  return { call: fn };
}

/** `set(list)` / `frozenset(list)` as protocol 2 writes them (the constructor REDUCEd with one list). */
function setFrom(frozen: boolean): GlobalHandler {
  return call((args, ctx) => {
    const s = new PySet(frozen);
    if (args.length === 0) return s;
    const src = args[0];
    if (args.length !== 1 || !(src instanceof PyList || src instanceof PyTuple)) {
      throw new PickleValueError(`${frozen ? 'frozenset' : 'set'}() takes one list`);
    }
    // The same list may be passed many times (memoized): each set is work and memory of its own.
    ctx.budget.step(src.items.length);
    for (const it of src.items) if (s.add(it)) ctx.budget.build(1);
    return s;
  });
}

/** Protocol < 3 writes Python 3 bytes as `_codecs.encode(text, 'latin1')`. */
function latin1Encode(args: readonly PyValue[], ctx: HandlerContext): PyValue {
  const [text, enc] = args;
  if (args.length !== 2 || typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) {
    throw new PickleValueError("_codecs.encode is allowed only as encode(str, 'latin1')");
  }
  // Buffer's latin1 encoder drops the high byte silently; Python would raise instead.
  if (/[^\x00-\xff]/.test(text)) throw new PickleValueError('_codecs.encode: text is not latin1');
  ctx.budget.build(1);
  ctx.budget.hold(text.length, 'a bytes object');
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** Protocol < 3 writes an empty bytes object as `bytes()`. */
function emptyBytes(args: readonly PyValue[]): PyValue {
  if (args.length !== 0) throw new PickleValueError('bytes() is allowed only without arguments');
  return new Uint8Array(0);
}

/** Containers and bytes, the Python globals that both torch and numpy streams use. */
export const PYTHON_GLOBALS: Allowlist = new Map<string, GlobalHandler>([
  [
    'collections OrderedDict',
    call((args) => {
      if (args.length !== 0) throw new PickleValueError('OrderedDict() takes no arguments here');
      return new PyDict(true);
    }),
  ],
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
