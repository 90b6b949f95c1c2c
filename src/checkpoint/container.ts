// Which container a file is (docs/checkpoint-format.md §3), and opening it: the unpickled object
// graph with every storage declared, sized and checked against the bytes that hold it, all under
// the read's budget. No interpretation of the graph here.

import { quote } from '../quote.js';
import { ITEM_SIZE } from '../tensor.js';
import type { ReadBudget } from './budget.js';
import { runPickle } from './pickle.js';
import { PickleContentError, PickleValueError, PyTuple, typeName, type Allowlist, type PyValue } from './pickle-values.js';
import { readLegacy, startsWithLegacyMagic } from './legacy.js';
import { StorageTable, storageIdFields, type StorageRef } from './torch-objects.js';
import { ZipError, readZip, type ZipArchive } from './zip.js';

export class ContainerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerError';
  }
}

export interface OpenedCheckpoint {
  container: 'zip' | 'legacy';
  /** The zip's folder name (`model` for `model.t7`); null for legacy files. */
  archiveName: string | null;
  protocol: number;
  root: PyValue;
  globals: string[];
  storages: ReadonlyMap<string, StorageRef>;
  /** The bytes of a storage, exactly numel × itemsize long. */
  storageBytes(s: StorageRef): Uint8Array;
}

const MAX_VERSION = 10;
/** `version` and `byteorder` hold a few characters ('3\n', 'little'); longer ones are not read. */
const MAX_TAG_BYTES = 16;

function hexStart(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function isZip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export function openCheckpoint(bytes: Uint8Array, globals: Allowlist, budget: ReadBudget): OpenedCheckpoint {
  if (bytes.length === 0) throw new ContainerError('empty file');
  if (isZip(bytes)) return openZip(bytes, globals, budget);
  if (bytes.length > 262 && Buffer.from(bytes.subarray(257, 262)).toString('latin1') === 'ustar') {
    throw new ContainerError('tar checkpoint from PyTorch < 0.1.10: unsupported');
  }
  if (Buffer.from(bytes.subarray(0, 8)).toString('latin1') === 'PYTORCH1') {
    throw new ContainerError('preview-format archive: unsupported');
  }
  if (!startsWithLegacyMagic(bytes)) throw new ContainerError(`not a PyTorch checkpoint (starts with ${hexStart(bytes)})`);
  const l = readLegacy(bytes, globals, budget);
  return {
    container: 'legacy',
    archiveName: null,
    protocol: l.protocol,
    root: l.root,
    globals: l.globals,
    storages: l.storages,
    storageBytes: (s) => {
      const d = l.data.get(s.key);
      if (d === undefined) throw new ContainerError(`storage ${quote(s.key)} has no data`);
      return d;
    },
  };
}

/** A short record such as `version`, as text; refused unread when it is longer than a tag can be. */
function tagRecord(zip: ZipArchive, name: string): string {
  const size = zip.entry(name)?.size ?? 0;
  if (size > MAX_TAG_BYTES) throw new ZipError(`record ${quote(name)} is ${size} bytes; it should hold a few characters`);
  return Buffer.from(zip.read(name)).toString('latin1');
}

function openZip(bytes: Uint8Array, globals: Allowlist, budget: ReadBudget): OpenedCheckpoint {
  const zip = readZip(bytes, { budget });
  const first = zip.entries[0];
  if (first === undefined) throw new ZipError('empty archive');
  const slash = first.name.indexOf('/');
  if (slash <= 0) throw new ZipError('file in archive is not in a subdirectory');
  const prefix = first.name.slice(0, slash + 1);
  for (const e of zip.entries) {
    if (!e.name.startsWith(prefix)) throw new ZipError(`record ${quote(e.name)} is outside the archive folder ${quote(prefix)}`);
  }
  if (zip.has(`${prefix}constants.pkl`)) throw new ContainerError('TorchScript archive; use a TorchScript loader');
  checkVersion(zip, prefix);
  const byteorder = zip.has(`${prefix}byteorder`) ? tagRecord(zip, `${prefix}byteorder`) : 'little';
  if (byteorder !== 'little') throw new ContainerError(`byte order ${quote(byteorder)} is not supported`);
  if (!zip.has(`${prefix}data.pkl`)) throw new ZipError(`no 'data.pkl' record`);

  const table = new StorageTable();
  const recordOf = (s: StorageRef): string => `${prefix}data/${s.key}`;
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!(pid instanceof PyTuple)) throw new PickleValueError(`persistent id is ${typeName(pid)}`);
    if (pid.items.length !== 5) throw new PickleValueError(`storage id has ${pid.items.length} elements, expected 5`);
    const s = table.get(storageIdFields(pid.items));
    // Checked against the central directory as soon as the storage is declared, before any use.
    const e = zip.entry(recordOf(s));
    if (e === undefined) throw new PickleContentError(`no record for storage ${quote(s.key)}`);
    const need = s.numel * ITEM_SIZE[s.dtype];
    if (e.size !== need) {
      throw new PickleContentError(`storage ${quote(s.key)} should hold ${s.numel} ${s.dtype} (${need} bytes); record has ${e.size}`);
    }
    return s;
  };
  const r = runPickle(zip.read(`${prefix}data.pkl`), { globals, persistentLoad, py2Strings: 'utf8', budget });
  const cache = new Map<string, Uint8Array>();
  return {
    container: 'zip',
    archiveName: prefix.slice(0, -1),
    protocol: r.protocol,
    root: r.value,
    globals: r.globals,
    storages: table.byKey,
    storageBytes: (s) => {
      let d = cache.get(s.key);
      if (d === undefined) {
        d = zip.read(recordOf(s));
        cache.set(s.key, d);
      }
      return d;
    },
  };
}

function checkVersion(zip: ZipArchive, prefix: string): void {
  const name = zip.has(`${prefix}version`) ? `${prefix}version` : zip.has(`${prefix}.data/version`) ? `${prefix}.data/version` : null;
  if (name === null) throw new ZipError(`no 'version' record`);
  const text = tagRecord(zip, name).trim();
  const v = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(v >= 1 && v <= MAX_VERSION)) throw new ZipError(`unsupported archive version ${quote(text.slice(0, 20))}`);
}
