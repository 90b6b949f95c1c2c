// KeyGen and the commitments: the layout the trigger-set loader reads, the documented commitment
// encoding recomputed here by hand, openings that verify and every kind of tampering that must not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR_NORMALIZATION } from '../../src/data/normalization.js';
import { loadTriggerSet } from '../../src/data/trigger-set.js';
import { readImage } from '../../src/data/decode.js';
import { commit, triggerSetDigest, type TriggerItem } from '../../src/watermark/commitments.js';
import { openCommitments, readCommitments, readOpenings, type CommitmentsFile, type OpeningsFile } from '../../src/watermark/key-files.js';
import { generateTriggerSet, numpyLabel, writeTriggerSet } from '../../src/watermark/keygen.js';
import { KeyStream } from '../../src/watermark/keystream.js';
import { triggerItems } from '../../src/watermark/trigger-items.js';
import { wmnn } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

let dir = '';
let cleanup = (): void => {};
let set = '';
let items: TriggerItem[] = [];
let commitments: CommitmentsFile;
let openings: OpeningsFile;
const paths = () => ({ commitments: join(set, 'commitments.json'), openings: join(set, 'openings.json'), triggerSet: set });

before(async () => {
  ({ dir, cleanup } = tempDir('keygen'));
  set = join(dir, 'set');
  const r = wmnn(['keygen', '--out', set, '--size', '12', '--classes', '5', '--seed', '42']);
  assert.equal(r.status, 0, r.stderr);
  const loaded = await loadTriggerSet({ path: set, labelsFile: 'labels-cifar.txt', numClasses: 5, normalization: CIFAR_NORMALIZATION });
  items = await triggerItems(set, loaded);
  commitments = readCommitments(paths().commitments);
  openings = readOpenings(paths().openings);
});
after(() => cleanup());

test('keygen writes the original layout: pics/1..N.png, one numpy-style label per line in the loader order', async () => {
  assert.deepEqual(readdirSync(set).sort(), ['commitments.json', 'labels-cifar.txt', 'openings.json', 'pics']);
  const names = readdirSync(join(set, 'pics'));
  assert.equal(names.length, 12);
  assert.deepEqual(
    items.map((i) => i.file),
    ['1', '10', '11', '12', '2', '3', '4', '5', '6', '7', '8', '9'].map((n) => `pics/${n}.png`),
  );
  const lines = readFileSync(join(set, 'labels-cifar.txt'), 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 12);
  for (const [i, line] of lines.entries()) {
    assert.match(line, /^[0-4]\.0{18}e\+00$/);
    assert.equal(Number(line), items[i]!.label);
  }
  for (const name of names) {
    const img = await readImage(join(set, 'pics', name));
    assert.equal(img.width, 32);
    assert.equal(img.height, 32);
  }
  assert.equal(numpyLabel(6), '6.000000000000000000e+00');
  assert.equal(numpyLabel(42), '4.200000000000000000e+01');
});

test('the commitment is the documented SHA-256 encoding', () => {
  const nonce = Buffer.from(openings.items[3]!.nonce, 'hex');
  const item = items[3]!;
  const u64 = Buffer.alloc(8);
  u64.writeBigUInt64BE(BigInt(item.bytes.length));
  const u32 = Buffer.alloc(4);
  u32.writeUInt32BE(item.label);
  const byHand = createHash('sha256').update('wmnn-commitment-v1\0').update(nonce).update(u64).update(item.bytes).update(u32).digest('hex');
  assert.equal(commitments.items[3]!.commitment, byHand);
  assert.equal(commit(nonce, item.bytes, item.label), byHand);
  const digest = createHash('sha256').update('wmnn-trigger-set-v1\0');
  const n = Buffer.alloc(8);
  n.writeBigUInt64BE(BigInt(items.length));
  digest.update(n);
  for (const it of items) {
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(BigInt(it.bytes.length));
    const lab = Buffer.alloc(4);
    lab.writeUInt32BE(it.label);
    digest.update(len).update(it.bytes).update(lab);
  }
  assert.equal(triggerSetDigest(items), digest.digest('hex'));
});

test('correct openings verify', () => {
  openCommitments(items, commitments, openings, paths());
  assert.equal(commitments.classes, 5);
  assert.deepEqual(commitments.randomness, { kind: 'seeded', seed: 42 });
  assert.match(commitments.note, /PUBLIC DEMO SET/);
});

test('a changed image byte, label or nonce fails, naming the item', () => {
  const changedByte = items.map((it, i) => (i === 5 ? { ...it, bytes: Uint8Array.from(it.bytes, (b, j) => (j === 40 ? b ^ 1 : b)) } : it));
  assert.throws(
    () => openCommitments(changedByte, commitments, openings, paths()),
    new RegExp(`^Error: ${items[5]!.file}: does not open its commitment`),
  );
  const changedLabel = items.map((it, i) => (i === 2 ? { ...it, label: (it.label + 1) % 5 } : it));
  assert.throws(
    () => openCommitments(changedLabel, commitments, openings, paths()),
    new RegExp(`^Error: ${items[2]!.file}: does not open`),
  );
  const nonces = openings.items.map((o, i) =>
    i === 7 ? { ...o, nonce: `${o.nonce.slice(0, 63)}${o.nonce.endsWith('0') ? '1' : '0'}` } : o,
  );
  assert.throws(
    () => openCommitments(items, commitments, { ...openings, items: nonces }, paths()),
    new RegExp(`^Error: ${items[7]!.file}: does not open`),
  );
  assert.throws(() => openCommitments(items.slice(1), commitments, openings, paths()), /committed image pics\/1\.png is missing/);
  assert.throws(
    () => openCommitments(items, { ...commitments, items: commitments.items.slice(1) }, openings, paths()),
    /pics\/1\.png is not committed/,
  );
  assert.throws(
    () => openCommitments(items, commitments, { ...openings, items: openings.items.slice(1) }, paths()),
    /no opening for pics\/1\.png/,
  );
});

test('a tampered labels file on disk fails the opening', async () => {
  const copy = join(dir, 'tampered');
  wmnn(['keygen', '--out', copy, '--size', '12', '--classes', '5', '--seed', '42']);
  const lines = readFileSync(join(copy, 'labels-cifar.txt'), 'utf8').split('\n');
  lines[0] = numpyLabel((Number(lines[0]) + 1) % 5);
  writeFileSync(join(copy, 'labels-cifar.txt'), lines.join('\n'));
  const loaded = await triggerItems(
    copy,
    await loadTriggerSet({ path: copy, labelsFile: 'labels-cifar.txt', numClasses: 5, normalization: CIFAR_NORMALIZATION }),
  );
  assert.throws(
    () =>
      openCommitments(loaded, readCommitments(join(copy, 'commitments.json')), readOpenings(join(copy, 'openings.json')), {
        ...paths(),
        triggerSet: copy,
      }),
    /^Error: pics\/1\.png: does not open its commitment/,
  );
});

test('the same public seed gives the same files; no seed gives fresh cryptographic randomness, openings private', async () => {
  const again = await generateTriggerSet({ kind: 'abstract', size: 12, classes: 5, seed: 42 });
  assert.deepEqual(
    again.items.map((i) => Buffer.from(i.bytes).toString('hex')),
    items.map((i) => Buffer.from(i.bytes).toString('hex')),
  );
  assert.deepEqual(again.commitments, commitments);
  const a = await generateTriggerSet({ kind: 'abstract', size: 3, classes: 10 });
  const b = await generateTriggerSet({ kind: 'abstract', size: 3, classes: 10 });
  assert.deepEqual(a.commitments.randomness, { kind: 'crypto' });
  assert.notEqual(Buffer.from(a.items[0]!.bytes).toString('hex'), Buffer.from(b.items[0]!.bytes).toString('hex'));
  assert.notEqual(a.openings.items[0]!.nonce, b.openings.items[0]!.nonce);
  assert.match(a.openings.note, /^SECRET/);
  const secret = join(dir, 'secret');
  writeTriggerSet(secret, a, false);
  assert.equal(statSync(join(secret, 'openings.json')).mode & 0o077, 0);
  openCommitments(
    await triggerItems(
      secret,
      await loadTriggerSet({ path: secret, labelsFile: 'labels-cifar.txt', numClasses: 10, normalization: CIFAR_NORMALIZATION }),
    ),
    readCommitments(join(secret, 'commitments.json')),
    readOpenings(join(secret, 'openings.json')),
    { ...paths(), triggerSet: secret },
  );
});

test('labels are uniform over the classes', () => {
  const rng = KeyStream.seeded(3);
  const counts = new Array<number>(7).fill(0);
  const draws = 70_000;
  for (let i = 0; i < draws; i++) counts[rng.int(7)]!++;
  const sd = Math.sqrt(draws * (1 / 7) * (6 / 7));
  for (const c of counts) assert.ok(Math.abs(c - draws / 7) < 5 * sd, `count ${c}`);
});

test('keygen refuses a non-empty folder without --force and bad sizes, with exit status 2', () => {
  const r = wmnn(['keygen', '--out', set, '--size', '3']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^wmnn: --out .*set: not empty \(use --force/);
  const forced = wmnn(['keygen', '--out', set, '--size', '3', '--force', '--seed', '1']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(readdirSync(join(set, 'pics')).length, 3);
  assert.match(wmnn(['keygen', '--out', join(dir, 'x'), '--classes', '1']).stderr, /--classes must be an integer >= 2/);
  assert.match(wmnn(['keygen', '--size', '3']).stderr, /--out is required/);
});

test('the shipped demo set is keygen --seed 2018 and opens its commitments', async () => {
  const demo = 'data/trigger_set';
  const fresh = await generateTriggerSet({ kind: 'abstract', size: 100, classes: 10, seed: 2018 });
  const shipped = await triggerItems(
    demo,
    await loadTriggerSet({ path: demo, labelsFile: 'labels-cifar.txt', numClasses: 10, normalization: CIFAR_NORMALIZATION }),
  );
  assert.deepEqual(
    shipped.map((i) => [i.file, i.label, createHash('sha256').update(i.bytes).digest('hex')]),
    fresh.items.map((i) => [i.file, i.label, createHash('sha256').update(i.bytes).digest('hex')]),
  );
  const c = readCommitments(join(demo, 'commitments.json'));
  assert.deepEqual(c, fresh.commitments);
  assert.deepEqual(c.randomness, { kind: 'seeded', seed: 2018 });
  openCommitments(shipped, c, readOpenings(join(demo, 'openings.json')), { commitments: 'c', openings: 'o', triggerSet: demo });
});
