// Hostile and broken files: each is refused with a clear one-line error, runs nothing (the payloads
// would create a file, and a control load in PyTorch shows that they do), allocates nothing absurd
// and returns within a second.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, readCheckpoint, readCheckpointBytes } from '../../src/checkpoint/read.js';
import { readZip, torchZipChunks, type ZipRecord } from '../../src/checkpoint/zip.js';
import { runReference, tempDir } from '../helpers/python.js';

let dir = '';
let cleanup = (): void => {};
let side = '';
let controlRan = false;

before(() => {
  ({ dir, cleanup } = tempDir('hostile'));
  side = join(dir, 'side-effect');
  const r = JSON.parse(
    runReference('make_refs.py', [
      JSON.stringify({
        hostile: [join(dir, 'h'), side, join(dir, 'control-side-effect')],
        checkpoints: [dir, ['tiny-zip.t7', 'tiny-legacy.t7', 'trained-zip.t7', 'trained-legacy.t7']],
      }),
    ]),
  ) as { hostile: { control_ran: boolean } };
  controlRan = r.hostile.control_ran;
});
after(() => cleanup());

/** Runs a read that must fail; checks the message, the time taken and the memory it grew by. */
function refused(read: () => unknown, message: RegExp, what: string): void {
  const mem0 = process.memoryUsage();
  // CPU time, not wall time: the limit is about the work a file causes, not how busy the machine is.
  const t0 = process.cpuUsage();
  let error: unknown = null;
  try {
    read();
  } catch (e) {
    error = e;
  }
  const cpu = process.cpuUsage(t0);
  const ms = (cpu.user + cpu.system) / 1000;
  const mem1 = process.memoryUsage();
  assert.ok(error instanceof CheckpointError, `${what}: expected a CheckpointError, got ${String(error)}`);
  assert.match(error.message, message, what);
  assert.ok(!error.message.includes('\n'), `${what}: one line`);
  assert.ok(ms < 1000, `${what}: took ${ms.toFixed(0)} ms of CPU`);
  const grown = mem1.arrayBuffers - mem0.arrayBuffers + (mem1.heapUsed - mem0.heapUsed);
  assert.ok(grown < 256 << 20, `${what}: grew memory by ${grown} bytes`);
}

test('the payloads are real: PyTorch runs them', () => {
  assert.equal(controlRan, true);
});

test('code-running files are refused by the global they name, and nothing runs', () => {
  const cases: [string, RegExp][] = [
    ['os-system.t7', /^os-system\.t7: refusing to load: GLOBAL 'posix system' is not allowed \(nothing was executed\)$/],
    ['eval.t7', /GLOBAL '__builtin__ eval' is not allowed/],
    ['exec.t7', /GLOBAL '__builtin__ exec' is not allowed/],
    ['subprocess.t7', /GLOBAL '(subprocess|commands) Popen' is not allowed/],
    ['stack-global.t7', /STACK_GLOBAL 'posix system' is not allowed/],
    ['legacy-forbidden.t7', /^legacy-forbidden\.t7: refusing to load: GLOBAL 'posix system'/],
    ['in-module.t7', /GLOBAL 'posix system' is not allowed/],
    ['nested-reduce-builtins.t7', /GLOBAL '__builtin__ getattr' is not allowed/],
    ['nested-reduce-allowed.t7', /REDUCE on collections\.OrderedDict is not allowed/],
  ];
  for (const [file, message] of cases) refused(() => readCheckpoint(join(dir, 'h', file)), message, file);
  assert.equal(existsSync(side), false, 'no payload ran');
});

test('absurd sizes are refused before anything is allocated', () => {
  refused(
    () => readCheckpoint(join(dir, 'h', 'storage-100gb.t7')),
    /storage '0' should hold 25000000000 float32 \(100000000000 bytes\); record has 4/,
    'zip 100 GB storage',
  );
  refused(
    () => readCheckpoint(join(dir, 'h', 'storage-100gb-legacy.t7')),
    /truncated: ends inside storage '0' \(needs 100000000000 bytes, 4 left\)/,
    'legacy 100 GB storage',
  );
  refused(
    () => readCheckpoint(join(dir, 'h', 'expanded-view.t7')),
    /acc: the tensors would cover more bytes than the file's storages hold/,
    '10^10-element view of one float',
  );
});

test('recursion bombs end in an error, not a stack overflow', () => {
  refused(() => readCheckpoint(join(dir, 'h', 'deep-lists.t7')), /is list, not a model or a state_dict/, '200k nested lists');
  refused(() => readCheckpoint(join(dir, 'h', 'mark-bomb.t7')), /MARKs nested too deeply/, '200k MARKs');
  refused(
    () => readCheckpoint(join(dir, 'h', 'deep-tuple-key.t7')),
    /a tuple cannot be a dict key or set item here/,
    '100k nested tuple key',
  );
  refused(() => readCheckpoint(join(dir, 'h', 'deep-modules.t7')), /modules nested too deeply/, '300 nested modules');
});

function records(file: string): ZipRecord[] {
  const bytes = readFileSync(join(dir, file));
  const zip = readZip(bytes);
  return zip.entries.map((e) => ({ name: e.name, data: zip.read(e.name) }));
}

function rezip(recs: ZipRecord[]): Uint8Array {
  return new Uint8Array(Buffer.concat(torchZipChunks(recs).chunks));
}

test('broken zips: missing records, short records, bad CRC, foreign folders, TorchScript', () => {
  const recs = records('tiny-zip.t7');
  const read = (bytes: Uint8Array) => () => readCheckpointBytes(bytes, 'model.t7');
  assert.equal(readCheckpointBytes(rezip(recs), 'model.t7').tensors.size, 107, 'the rebuilt archive itself is fine');
  refused(read(rezip(recs.filter((r) => r.name !== 'tiny-zip/data/5'))), /^model\.t7: no record for storage '5'/, 'missing storage record');
  refused(read(rezip(recs.filter((r) => r.name !== 'tiny-zip/version'))), /^model\.t7: no 'version' record$/, 'missing version');
  refused(read(rezip(recs.filter((r) => r.name !== 'tiny-zip/data.pkl'))), /no 'data\.pkl' record/, 'missing data.pkl');
  const short = recs.map((r) => (r.name === 'tiny-zip/data/11' ? { ...r, data: r.data.subarray(0, r.data.length - 4) } : r));
  refused(read(rezip(short)), /storage '11' should hold 2 float32 \(8 bytes\); record has 4/, 'record 4 bytes short');
  refused(
    read(rezip([...recs, { name: 'other/data/99', data: new Uint8Array(4) }])),
    /record 'other\/data\/99' is outside the archive folder 'tiny-zip\/'/,
    'foreign folder',
  );
  refused(read(rezip([...recs, { name: 'tiny-zip/constants.pkl', data: new Uint8Array(1) }])), /TorchScript archive/, 'TorchScript');
  refused(
    read(rezip([...recs, { name: 'tiny-zip/byteorder', data: new Uint8Array(Buffer.from('big')) }])),
    /byte order 'big'/,
    'big-endian',
  );
  refused(
    read(rezip(recs.map((r) => (r.name.endsWith('/version') ? { ...r, data: new Uint8Array(Buffer.from('11\n')) } : r)))),
    /unsupported archive version '11'/,
    'version 11',
  );
  const crc = new Uint8Array(readFileSync(join(dir, 'tiny-zip.t7')));
  const zip = readZip(crc);
  const e = zip.entry('tiny-zip/data/3');
  assert.ok(e);
  crc[e.dataOffset] = (crc[e.dataOffset] as number) ^ 0xff;
  refused(read(crc), /^model\.t7: CRC mismatch in 'tiny-zip\/data\/3'$/, 'CRC mismatch');
});

test('not checkpoints at all: empty, random, HTML, tar, preview format', () => {
  const read = (bytes: Uint8Array) => () => readCheckpointBytes(bytes, 'model.t7');
  refused(read(new Uint8Array(0)), /^model\.t7: empty file$/, 'empty');
  let s = 12345;
  const random = Uint8Array.from({ length: 4096 }, () => (s = (s * 1103515245 + 12345) & 0x7fffffff) >> 16);
  random[0] = 0x3c;
  refused(read(random), /^model\.t7: not a PyTorch checkpoint \(starts with 3c /, 'random bytes');
  refused(
    read(new Uint8Array(Buffer.from('<!DOCTYPE html><html></html>'))),
    /not a PyTorch checkpoint \(starts with 3c 21 44 4f\)/,
    'HTML',
  );
  const tar = new Uint8Array(1024);
  tar.set(Buffer.from('ustar'), 257);
  refused(read(tar), /tar checkpoint from PyTorch < 0\.1\.10: unsupported/, 'tar');
  refused(read(new Uint8Array(Buffer.from('PYTORCH1xxxxxxxx'))), /preview-format archive: unsupported/, 'PYTORCH1');
  refused(
    read(new Uint8Array(Buffer.from('PK\x03\x04 and nothing else'))),
    /truncated: zip end-of-central-directory record not found/,
    'zip magic only',
  );
});

test('files cut short anywhere are refused cleanly (full-size zip and legacy, and every few bytes of small ones)', () => {
  for (const file of ['trained-zip.t7', 'trained-legacy.t7']) {
    const bytes = new Uint8Array(readFileSync(join(dir, file)));
    const cuts = new Set<number>();
    for (let i = 0; i < 120; i++) cuts.add(Math.floor((bytes.length * i) / 120));
    for (let n = 1; n < 30_000; n += 997) cuts.add(n); // inside the pickle
    for (let n = 1; n < 12_000; n += 401) cuts.add(bytes.length - n); // the directory and trailer
    for (const n of cuts) refused(() => readCheckpointBytes(bytes.subarray(0, n), file), /./, `${file} cut at ${n}`);
  }
  for (const file of ['tiny-zip.t7', 'tiny-legacy.t7']) {
    const bytes = new Uint8Array(readFileSync(join(dir, file)));
    for (let n = 0; n < bytes.length; n += 13) {
      assert.throws(() => readCheckpointBytes(bytes.subarray(0, n), file), CheckpointError, `${file} cut at ${n}`);
    }
  }
});
