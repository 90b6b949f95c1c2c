// The pickle VM on its own: numpy/CIFAR-style pickles written by Python at several protocols
// (and by an emulation of Python 2's cPickle), .npy files against numpy.save, and hostile streams.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNumpyPickle, isTensor, NUMPY_GLOBALS, type PlainValue } from '../../src/checkpoint/numpy.js';
import { readNpy, writeNpy } from '../../src/checkpoint/npy.js';
import { PickleError, UnsafePickleError, runPickle, unpickle } from '../../src/checkpoint/pickle.js';
import { PyDict, PyList } from '../../src/checkpoint/pickle-values.js';
import { PYTHON_GLOBALS } from '../../src/checkpoint/python-globals.js';
import { runReference, sha256, tempDir, tensorSha } from '../helpers/python.js';

interface BatchEntry {
  sha256: string;
  shape: number[];
  labels: number[];
  keys: string;
}
interface NpyEntry {
  dtype: string;
  shape: number[];
  sha256: string;
  fortran: boolean;
}
type Manifest = Record<string, BatchEntry> & { npy: Record<string, NpyEntry> };

let dir = '';
let cleanup = (): void => {};
let manifest: Manifest;

before(() => {
  ({ dir, cleanup } = tempDir('pickle'));
  runReference('make_pickles.py', [dir]);
  manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
});
after(() => cleanup());

function get(d: PlainValue, key: string): PlainValue | undefined {
  assert.ok(d instanceof Map, 'top level is a dict');
  return d.get(key);
}

test('CIFAR-style batches read back identically at every protocol and key kind', () => {
  const names = Object.keys(manifest).filter((k) => k.endsWith('.pkl'));
  assert.equal(names.length, 5);
  for (const name of names) {
    const m = manifest[name] as BatchEntry;
    const v = readNumpyPickle(readFileSync(join(dir, name)));
    const data = get(v, 'data');
    assert.ok(isTensor(data), `${name}: data is a tensor`);
    assert.equal(data.dtype, 'uint8');
    assert.deepEqual(data.shape, m.shape, name);
    assert.equal(tensorSha(data), m.sha256, `${name}: array bytes`);
    assert.deepEqual(get(v, 'labels'), m.labels, `${name}: labels`);
    const label = get(v, 'batch_label');
    assert.equal(label, 'training batch 1 of 5', name);
    const files = get(v, 'filenames');
    assert.ok(Array.isArray(files));
    assert.equal(files[3], 'img_3.png');
  }
});

test('Python 2 str stays bytes when asked, and is latin1 text by default', () => {
  const bytes = readFileSync(join(dir, 'py2-cpickle.pkl'));
  const raw = unpickle(bytes, { globals: NUMPY_GLOBALS, py2Strings: 'bytes' });
  assert.ok(raw instanceof PyDict);
  assert.ok(raw.get(new Uint8Array(Buffer.from('labels'))) instanceof PyList);
  assert.equal(raw.get('labels'), undefined, 'bytes and str keys differ, as in Python 3');
  const r = runPickle(bytes, { globals: NUMPY_GLOBALS, py2Strings: 'latin1' });
  assert.equal(r.protocol, 2);
  assert.equal(r.end, bytes.length);
  assert.deepEqual(r.globals.sort(), ['numpy.core.multiarray._reconstruct', 'numpy.dtype', 'numpy.ndarray']);
});

test('.npy: readNpy matches numpy, writeNpy reproduces numpy.save byte for byte', () => {
  for (const [name, m] of Object.entries(manifest.npy)) {
    const bytes = readFileSync(join(dir, name));
    const t = readNpy(bytes);
    assert.deepEqual(t.shape, m.shape, name);
    assert.equal(tensorSha(t), m.sha256, `${name}: values`);
    assert.equal(t.dtype, m.dtype, name);
    // numpy writes Fortran arrays in Fortran order; ours are C order, so only C files compare.
    if (!m.fortran) assert.equal(sha256(writeNpy(t)), sha256(bytes), `${name}: writeNpy bytes`);
  }
});

test('.npy: malformed headers and short data are errors', () => {
  const good = writeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
  assert.throws(() => readNpy(good.subarray(0, good.length - 1)), /data is 15 bytes/);
  assert.throws(() => readNpy(good.subarray(0, 40)), /truncated|malformed|needs/);
  const evil = Buffer.from(good);
  evil.write("{'descr': __import__('os')", 10, 'latin1');
  assert.throws(() => readNpy(evil), /malformed|not a dict/);
  assert.throws(() => readNpy(new Uint8Array(3)), /not a \.npy/);
});

// Hand-assembled streams: opcodes as bytes, strings as latin1.
function pk(...parts: (string | number[])[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));
}

test('globals outside the allowlist are refused by name, for GLOBAL and STACK_GLOBAL', () => {
  const viaGlobal = pk([0x80, 2], 'cposix\nsystem\n', 'X', [5, 0, 0, 0], 'touch', [0x85], 'R.');
  assert.throws(
    () => unpickle(viaGlobal, { globals: NUMPY_GLOBALS }),
    (e: unknown) =>
      e instanceof UnsafePickleError && e.message === "refusing to load: GLOBAL 'posix system' is not allowed (nothing was executed)",
  );
  const viaStack = pk([0x80, 4], [0x8c, 8], 'builtins', [0x8c, 4], 'eval', [0x93], [0x8c, 1], '1', [0x85], 'R.');
  assert.throws(() => unpickle(viaStack, { globals: NUMPY_GLOBALS }), /STACK_GLOBAL 'builtins eval' is not allowed/);
});

test('REDUCE, BUILD and NEWOBJ only on what the allowlist permits', () => {
  // OrderedDict()() : calling the result of a REDUCE.
  const nested = pk([0x80, 2], 'ccollections\nOrderedDict\n)R)R.');
  assert.throws(() => unpickle(nested, { globals: PYTHON_GLOBALS }), /REDUCE on collections\.OrderedDict is not allowed/);
  // numpy.ndarray is a value only (an argument to _reconstruct), never called.
  const callNd = pk([0x80, 2], 'cnumpy\nndarray\n)R.');
  assert.throws(() => unpickle(callNd, { globals: NUMPY_GLOBALS }), /REDUCE on numpy\.ndarray is not allowed/);
  const buildList = pk([0x80, 2], ']}b.');
  assert.throws(() => unpickle(buildList, { globals: NUMPY_GLOBALS }), /BUILD on list is not allowed/);
  const newobj = pk([0x80, 2], 'c_codecs\nencode\n)', [0x81], '.');
  assert.throws(() => unpickle(newobj, { globals: NUMPY_GLOBALS }), /NEWOBJ on _codecs\.encode is not allowed/);
});

test('limits: MARK bombs, deep nesting, cycles, huge lengths, unset memo, bad opcodes', () => {
  const opts = { globals: NUMPY_GLOBALS };
  const t0 = Date.now();
  assert.throws(() => unpickle(pk([0x80, 2], '('.repeat(200_000), '.'), opts), /MARKs nested too deeply/);
  // 100k nested lists: the VM is iterative, conversion to plain values refuses the depth.
  const deep = pk([0x80, 2], ']'.repeat(100_000), 'a'.repeat(99_999), '.');
  assert.ok(unpickle(deep, opts) instanceof PyList);
  assert.throws(() => readNumpyPickle(deep), /nested too deeply/);
  // A list that contains itself.
  assert.throws(() => readNumpyPickle(pk([0x80, 2], ']q', [0], 'h', [0], 'a.')), /recursive structure/);
  // Lengths far beyond the stream: refused before allocating.
  assert.throws(() => unpickle(pk([0x80, 2], 'X', [0xff, 0xff, 0xff, 0x7f], 'abc.'), opts), /truncated pickle at byte 2/);
  assert.throws(() => unpickle(pk([0x80, 4], [0x8e, 0, 0, 0, 0, 0, 0, 0, 0x40], '.'), opts), /truncated pickle at byte 2/);
  assert.throws(() => unpickle(pk([0x80, 2], [0x8b, 0, 0, 0, 0x40], '.'), opts), /integer of 1073741824 bytes exceeds the limit/);
  // numpy array whose shape claims 10^12 elements over 6 bytes of data.
  const bigArray = pk(
    [0x80, 2],
    'cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK',
    [0],
    [0x85],
    'U',
    [1],
    'b',
    [0x87],
    'R(K',
    [1],
    'J',
    [0, 0x10, 0xa5, 0xd4],
    'J',
    [0, 0x10, 0xa5, 0xd4],
    [0x86],
    'cnumpy\ndtype\nU',
    [2],
    'u1',
    [0x89, 0x88, 0x87],
    'R',
    [0x89],
    'U',
    [6],
    'abcdef',
    't',
    'b.',
  );
  assert.throws(() => unpickle(bigArray, opts), /needs .* bytes, has 6/);
  assert.throws(() => unpickle(pk([0x80, 2], 'h', [17], '.'), opts), /memo 17 unset/);
  assert.throws(() => unpickle(pk([0x80, 2], [0x11], '.'), opts), /unsupported pickle opcode 0x11 at byte 2/);
  assert.throws(() => unpickle(pk([0x80, 2], 'ios\nsystem\n'), opts), /unsupported pickle opcode 0x69/);
  assert.throws(() => unpickle(pk([0x80, 2], 'K', [1], 'K', [2], '.'), opts), /STOP with a stack/);
  assert.throws(() => unpickle(pk([0x80, 2], '}]a.'), opts), /APPEND to dict/);
  assert.throws(() => unpickle(pk([0x80, 2], '}](K', [1], 'u.'), opts), /odd number|SETITEM on list/);
  assert.ok(Date.now() - t0 < 5000);
});

test('every truncation of a real pickle is a clean PickleError', () => {
  const bytes = readFileSync(join(dir, 'py3-p2-str-keys.pkl')).subarray(0, 4000);
  // A pickle cut short; shorten the array payload so the cut points land in every region.
  for (let n = 0; n < bytes.length; n += 7) {
    assert.throws(
      () => readNumpyPickle(bytes.subarray(0, n)),
      (e: unknown) => e instanceof PickleError,
      `cut at ${n}`,
    );
  }
});
