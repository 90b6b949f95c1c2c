// Fuzzing the reader with mutated checkpoints: bytes flipped in the pickle (with the zip's CRCs
// made valid again, so the pickle VM and the model walk see them), anywhere in the file,
// truncations, inserted bytes, swapped and duplicated records. Every case must end in a clean
// load or a CheckpointError with one line, never a crash, a hang or a foreign exception.
// The files are the ResNet-18 module graph with tiny tensors: the same pickle as a real
// checkpoint (20 kB of it), in a file small enough to mutate thousands of times.
//
// Each corpus runs twice: with a fixed seed (the same cases every time, a regression test), and
// with a fresh seed per run, bounded by a count and a CPU time, so that every CI run tries cases
// no earlier run tried. A failure names its seed; WMNN_FUZZ_SEED=<seed> replays that run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
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

interface Tally {
  loaded: number;
  refused: number;
  slowest: number;
  kinds: Map<string, number>;
}

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
    out[at] = r === 0 ? rand(256) : r === 1 ? (out[at] as number) ^ (1 << rand(8)) : ([0, 0xff, 0x7f, 0x80][rand(4)] as number);
  }
  return out;
}

/** The fresh round's seed: WMNN_FUZZ_SEED to replay a failed run, else a new one. */
const FRESH_SEED = process.env.WMNN_FUZZ_SEED !== undefined ? Number(process.env.WMNN_FUZZ_SEED) : randomInt(2 ** 31);
/** The fresh round stops after this many cases or this much CPU time, whichever comes first. */
const FRESH_CASES = 1200;
const FRESH_CPU_MS = 4000;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

type Mutator = (i: number, rand: (n: number) => number) => Uint8Array;

/** `count` cases from `make` (case index, generator), or fewer when `cpuBudgetMs` runs out first. */
function round(make: Mutator, seed: number, count: number, cpuBudgetMs: number, what: string): Tally {
  const rand = prng(seed);
  const tally: Tally = { loaded: 0, refused: 0, slowest: 0, kinds: new Map() };
  const stop = cpuMs() + cpuBudgetMs;
  for (let i = 0; i < count && cpuMs() < stop; i++) attempt(make(i, rand), `${what} case ${i} (seed ${seed})`, tally);
  return tally;
}

/** Mutations of the zip file: the pickle re-zipped with valid CRCs, raw bytes, truncation, swapped records. */
function zipMutator(): Mutator {
  const original = new Uint8Array(readFileSync(join(dir, 'tiny-zip.t7')));
  const zip = readZip(original);
  const recs: ZipRecord[] = zip.entries.map((e) => ({ name: e.name, data: zip.read(e.name) }));
  const pklIndex = recs.findIndex((r) => r.name.endsWith('/data.pkl'));
  const pkl = recs[pklIndex] as ZipRecord;
  const rezip = (rs: ZipRecord[]): Uint8Array => new Uint8Array(Buffer.concat(torchZipChunks(rs).chunks));
  return (i, rand) => {
    const mode = i % 6;
    if (mode <= 2) {
      const data = flip(pkl.data, 0, pkl.data.length, 1 + rand(mode === 0 ? 2 : 12), rand);
      return rezip(recs.map((r, j) => (j === pklIndex ? { ...r, data } : r)));
    }
    if (mode === 3) return flip(original, 0, original.length, 1 + rand(8), rand);
    if (mode === 4) return original.subarray(0, rand(original.length));
    // Swap two records' contents, or duplicate one under another's name.
    const rs = recs.map((r) => ({ ...r }));
    const ra = rs[rand(rs.length)] as ZipRecord;
    const rb = rs[rand(rs.length)] as ZipRecord;
    if (rand(2) === 0) [ra.data, rb.data] = [rb.data, ra.data];
    else rb.data = ra.data;
    return rezip(rs);
  };
}

/** Mutations of the legacy file; its object pickle ends before the storage keys and raw data, so that part most. */
function legacyMutator(): Mutator {
  const original = new Uint8Array(readFileSync(join(dir, 'tiny-legacy.t7')));
  return (i, rand) => {
    const mode = i % 4;
    if (mode <= 1) return flip(original, 0, Math.min(original.length, 30_000), 1 + rand(mode === 0 ? 2 : 10), rand);
    if (mode === 2) return flip(original, 0, original.length, 1 + rand(6), rand);
    const at = rand(original.length);
    const insert = Uint8Array.from({ length: 1 + rand(8) }, () => rand(256));
    return new Uint8Array(Buffer.concat([original.subarray(0, at), insert, original.subarray(at + rand(3))]));
  };
}

function checkTally(tally: Tally, n: number, what: string): void {
  assert.equal(tally.loaded + tally.refused, n);
  assert.ok(tally.refused > n / 3, `${what}: most mutations are refused (${tally.refused})`);
  assert.ok(tally.kinds.size > 20, `${what}: many different errors: ${[...tally.kinds.keys()].join(' | ')}`);
  assert.ok(tally.slowest < 1000, `${what}: slowest case ${tally.slowest.toFixed(0)} ms`);
}

test('mutated zip checkpoints load or fail cleanly (fixed seed)', () => {
  const N = 1800;
  const tally = round(zipMutator(), 2024, N, Infinity, 'zip');
  checkTally(tally, N, 'zip');
  assert.ok(tally.loaded > 0, 'some mutations still load (e.g. changed values)');
});

test('mutated legacy checkpoints load or fail cleanly (fixed seed)', () => {
  const N = 1200;
  checkTally(round(legacyMutator(), 7, N, Infinity, 'legacy'), N, 'legacy');
});

test('fresh mutations of both load or fail cleanly (a new seed every run)', (t) => {
  const zip = round(zipMutator(), FRESH_SEED, FRESH_CASES, FRESH_CPU_MS / 2, 'zip');
  const legacy = round(legacyMutator(), FRESH_SEED, FRESH_CASES, FRESH_CPU_MS / 2, 'legacy');
  const cases = (x: Tally): number => x.loaded + x.refused;
  t.diagnostic(`seed ${FRESH_SEED} (replay: WMNN_FUZZ_SEED=${FRESH_SEED}): zip ${cases(zip)} cases, legacy ${cases(legacy)}`);
  // Every case ran to a clean end (attempt fails otherwise); a slow machine runs fewer of them.
  for (const [what, tally] of [
    ['zip', zip],
    ['legacy', legacy],
  ] as const) {
    const n = cases(tally);
    assert.ok(n >= 100, `${what}: only ${n} cases in ${FRESH_CPU_MS / 2} ms of CPU (seed ${FRESH_SEED})`);
    assert.ok(tally.slowest < 1000, `${what}: slowest case ${tally.slowest.toFixed(0)} ms (seed ${FRESH_SEED})`);
  }
});
