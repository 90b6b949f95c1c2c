// Fuzzing the reader with mutated checkpoints: bytes flipped in the pickle (with the zip's CRCs
// made valid again, so the pickle VM and the model walk see them), anywhere in the file,
// truncations, inserted bytes, swapped and duplicated records. Every case must end in a clean
// load or a CheckpointError with one line, never a crash, a hang or a foreign exception.
// The files are the ResNet-18 module graph with tiny tensors: the same pickle as a real
// checkpoint (20 kB of it), in a file small enough to mutate thousands of times.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, readCheckpointBytes } from '../../src/checkpoint/read.js';
import { readZip, torchZipChunks, type ZipRecord } from '../../src/checkpoint/zip.js';
import { runReference, tempDir } from '../helpers/python.js';

let dir = '';
let cleanup = (): void => {};

before(() => {
  ({ dir, cleanup } = tempDir('fuzz'));
  runReference('make_checkpoints.py', [dir, 'tiny-zip.t7', 'tiny-legacy.t7']);
});
after(() => cleanup());

function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface Tally { loaded: number; refused: number; slowest: number; kinds: Map<string, number> }

/** One case: a clean load or a one-line CheckpointError, in well under a second. */
function attempt(bytes: Uint8Array, what: string, tally: Tally): void {
  const t0 = performance.now();
  try {
    readCheckpointBytes(bytes, 'fuzz.t7');
    tally.loaded++;
  } catch (e) {
    if (!(e instanceof CheckpointError)) assert.fail(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.ok(e.message.startsWith('fuzz.t7: ') && !e.message.includes('\n'), `${what}: ${e.message}`);
    const kind = e.message.replace(/\d+/g, 'N').slice(9, 60);
    tally.kinds.set(kind, (tally.kinds.get(kind) ?? 0) + 1);
    tally.refused++;
  }
  tally.slowest = Math.max(tally.slowest, performance.now() - t0);
}

function flip(bytes: Uint8Array, from: number, to: number, count: number, rand: (n: number) => number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < count; i++) {
    const at = from + rand(to - from);
    // Half the time a random byte, half the time a single-bit flip or an "interesting" value.
    const r = rand(4);
    out[at] = r === 0 ? rand(256) : r === 1 ? (out[at] as number) ^ (1 << rand(8)) : [0, 0xff, 0x7f, 0x80][rand(4)] as number;
  }
  return out;
}

test('mutated zip checkpoints load or fail cleanly', () => {
  const original = new Uint8Array(readFileSync(join(dir, 'tiny-zip.t7')));
  const zip = readZip(original);
  const recs: ZipRecord[] = zip.entries.map((e) => ({ name: e.name, data: zip.read(e.name) }));
  const pklIndex = recs.findIndex((r) => r.name.endsWith('/data.pkl'));
  const pkl = recs[pklIndex] as ZipRecord;
  const rezip = (rs: ZipRecord[]): Uint8Array => new Uint8Array(Buffer.concat(torchZipChunks(rs).chunks));
  const rand = prng(2024);
  const tally: Tally = { loaded: 0, refused: 0, slowest: 0, kinds: new Map() };
  const N = 2400;
  for (let i = 0; i < N; i++) {
    const mode = i % 6;
    let bytes: Uint8Array;
    if (mode <= 2) {
      // The pickle itself, re-zipped with valid CRCs.
      const data = flip(pkl.data, 0, pkl.data.length, 1 + rand(mode === 0 ? 2 : 12), rand);
      bytes = rezip(recs.map((r, j) => (j === pklIndex ? { ...r, data } : r)));
    } else if (mode === 3) {
      bytes = flip(original, 0, original.length, 1 + rand(8), rand);
    } else if (mode === 4) {
      bytes = original.subarray(0, rand(original.length));
    } else {
      // Swap two records' contents, or duplicate one under another's name.
      const a = rand(recs.length);
      const b = rand(recs.length);
      const rs = recs.map((r) => ({ ...r }));
      const ra = rs[a] as ZipRecord;
      const rb = rs[b] as ZipRecord;
      if (rand(2) === 0) [ra.data, rb.data] = [rb.data, ra.data];
      else rb.data = ra.data;
      bytes = rezip(rs);
    }
    attempt(bytes, `zip case ${i} (mode ${mode})`, tally);
  }
  assert.equal(tally.loaded + tally.refused, N);
  assert.ok(tally.refused > N / 3, `most mutations are refused (${tally.refused})`);
  assert.ok(tally.loaded > 0, 'some mutations still load (e.g. changed values)');
  assert.ok(tally.kinds.size > 20, `many different errors: ${[...tally.kinds.keys()].join(' | ')}`);
  assert.ok(tally.slowest < 1000, `slowest case ${tally.slowest.toFixed(0)} ms`);
});

test('mutated legacy checkpoints load or fail cleanly', () => {
  const original = new Uint8Array(readFileSync(join(dir, 'tiny-legacy.t7')));
  const rand = prng(7);
  const tally: Tally = { loaded: 0, refused: 0, slowest: 0, kinds: new Map() };
  // The object pickle ends before the storage key list and the raw data: mutate that part most.
  const N = 1600;
  for (let i = 0; i < N; i++) {
    const mode = i % 4;
    let bytes: Uint8Array;
    if (mode <= 1) bytes = flip(original, 0, Math.min(original.length, 30_000), 1 + rand(mode === 0 ? 2 : 10), rand);
    else if (mode === 2) bytes = flip(original, 0, original.length, 1 + rand(6), rand);
    else {
      const at = rand(original.length);
      const insert = Uint8Array.from({ length: 1 + rand(8) }, () => rand(256));
      bytes = new Uint8Array(Buffer.concat([original.subarray(0, at), insert, original.subarray(at + rand(3))]));
    }
    attempt(bytes, `legacy case ${i} (mode ${mode})`, tally);
  }
  assert.ok(tally.refused > N / 3, `most mutations are refused (${tally.refused})`);
  assert.ok(tally.kinds.size > 20, `many different errors: ${[...tally.kinds.keys()].join(' | ')}`);
  assert.ok(tally.slowest < 1000, `slowest case ${tally.slowest.toFixed(0)} ms`);
});
