// The legacy container (torch < 1.6, or `_use_new_zipfile_serialization=False`),
// docs/checkpoint-format.md §5: five pickles back to back (magic number, protocol 1001, sys_info,
// the object, the storage key list), then each storage as an int64 element count and raw bytes.

import { quote } from '../quote.js';
import { ITEM_SIZE } from '../tensor.js';
import { ReadBudget } from './budget.js';
import { runPickle } from './pickle.js';
import { PickleValueError, PyDict, PyGlobal, PyList, PyTuple, typeName, type Allowlist, type PyValue } from './pickle-values.js';
import { StorageTable, storageIdFields, type StorageRef } from './torch-objects.js';

export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

export class LegacyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LegacyError';
  }
}

export interface LegacyContents {
  root: PyValue;
  protocol: number;
  globals: string[];
  storages: ReadonlyMap<string, StorageRef>;
  /** Raw bytes of each storage, checked against its declared element count. */
  data: ReadonlyMap<string, Uint8Array>;
}

const NO_GLOBALS: Allowlist = new Map();
/** The magic number's pickle is 15 bytes; a probe of any file costs at most this much. */
const PROBE_LIMITS = { fileBytes: 0, heldBytes: 64 << 10, objects: 64, steps: 64 };

/** True when the file's first pickle is the legacy magic number. */
export function startsWithLegacyMagic(bytes: Uint8Array): boolean {
  try {
    const budget = new ReadBudget(PROBE_LIMITS);
    return runPickle(bytes, { globals: NO_GLOBALS, limits: { maxStack: 64, maxMemo: 64 }, budget }).value === LEGACY_MAGIC;
  } catch {
    return false;
  }
}

export function readLegacy(bytes: Uint8Array, globals: Allowlist, budget: ReadBudget): LegacyContents {
  const header = { globals: NO_GLOBALS, limits: { maxStack: 1000, maxMemo: 1000 }, budget };
  const magic = runPickle(bytes, header, 0);
  if (magic.value !== LEGACY_MAGIC) throw new LegacyError('invalid magic number; corrupt file?');
  const proto = runPickle(bytes, header, magic.end);
  if (proto.value !== LEGACY_PROTOCOL) throw new LegacyError(`unsupported legacy protocol ${String(proto.value)}`);
  const sys = runPickle(bytes, header, proto.end);
  if (!(sys.value instanceof PyDict) || sys.value.get('little_endian') !== true) {
    throw new LegacyError('sys_info does not say little_endian=True');
  }

  const table = new StorageTable();
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!(pid instanceof PyTuple)) throw new PickleValueError(`persistent id is ${typeName(pid)}`);
    const items = pid.items;
    if (items[0] === 'module') {
      // ('module', class, source_file, source): the class itself; the source text is ignored.
      const cls = items[1];
      if (items.length !== 4 || !(cls instanceof PyGlobal) || cls.handler.newObject === undefined) {
        throw new PickleValueError('module persistent id does not name a module class');
      }
      return cls;
    }
    if (items.length !== 6) throw new PickleValueError(`storage id has ${items.length} elements, expected 6`);
    if (items[5] !== null) throw new PickleValueError('storage views are not supported');
    return table.get(storageIdFields(items));
  };
  const obj = runPickle(bytes, { globals, persistentLoad, py2Strings: 'utf8', budget }, sys.end);

  const keyList = runPickle(bytes, header, obj.end);
  if (!(keyList.value instanceof PyList)) throw new LegacyError('storage key list is missing');
  const data = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keyList.end;
  for (const k of keyList.value.items) {
    if (typeof k !== 'string') throw new LegacyError('storage key list holds a non-string');
    const s = table.byKey.get(k);
    if (s === undefined) throw new LegacyError(`storage ${quote(k)} is listed but never used`);
    if (data.has(k)) throw new LegacyError(`storage ${quote(k)} is listed twice`);
    if (bytes.length - pos < 8) throw new LegacyError(`truncated: ends before storage ${quote(k)}`);
    const count = view.getBigInt64(pos, true);
    pos += 8;
    if (count !== BigInt(s.numel)) throw new LegacyError(`storage ${quote(k)} holds ${count} elements; its id says ${s.numel}`);
    const need = s.numel * ITEM_SIZE[s.dtype];
    if (need > bytes.length - pos) {
      throw new LegacyError(`truncated: ends inside storage ${quote(k)} (needs ${need} bytes, ${bytes.length - pos} left)`);
    }
    data.set(k, bytes.subarray(pos, pos + need));
    pos += need;
  }
  for (const k of table.byKey.keys()) {
    if (!data.has(k)) throw new LegacyError(`storage ${quote(k)} has no data`);
  }
  if (pos !== bytes.length) throw new LegacyError(`${bytes.length - pos} unexpected bytes after the last storage`);
  return { root: obj.value, protocol: obj.protocol, globals: obj.globals, storages: table.byKey, data };
}
