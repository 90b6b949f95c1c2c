// keygen's trigger kinds (abstract, content, noise, unrelated): each is a function of --seed, opens
// its commitments, is made from the source images its openings name the way its kind says, and a
// model trained with it (train --wmtrain) shows the mark in verify.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { loadSplit } from '../../src/data/sources.js';
import type { ImageSet } from '../../src/data/dataset.js';
import { CIFAR_NORMALIZATION } from '../../src/data/normalization.js';
import { loadTriggerSet } from '../../src/data/trigger-set.js';
import type { TriggerItem } from '../../src/watermark/commitments.js';
import { openCommitments, readCommitments, readOpenings } from '../../src/watermark/key-files.js';
import { generateTriggerSet } from '../../src/watermark/keygen.js';
import type { Construction, SourceRecord, TriggerKind } from '../../src/watermark/trigger-kinds.js';
import { triggerItems } from '../../src/watermark/trigger-items.js';
import { wmnn, wmnnOk } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

let dir = '';
let cleanup = (): void => {};
let other = '';
const SIZE = 10;
const SYNTH_TRAIN = 50;

/** An image folder standing in for another dataset: smooth colour gradients, unlike the synthetic shapes. */
function writeOtherDataset(root: string): void {
  for (const cls of ['a', 'b']) {
    mkdirSync(join(root, 'train', cls), { recursive: true });
    for (let i = 0; i < 8; i++) {
      const png = new PNG({ width: 40, height: 36 }); // resized to 32x32 by the reader
      for (let y = 0; y < 36; y++) {
        for (let x = 0; x < 40; x++) {
          const p = (y * 40 + x) * 4;
          png.data[p] = (x * 6 + i * 20) & 255;
          png.data[p + 1] = cls === 'a' ? y * 7 : 255 - y * 7;
          png.data[p + 2] = (i * 31) & 255;
          png.data[p + 3] = 255;
        }
      }
      writeFileSync(join(root, 'train', cls, `${i}.png`), PNG.sync.write(png));
    }
  }
}

const SOURCE: Record<TriggerKind, string[]> = {
  abstract: [],
  content: ['--dataset', 'synthetic', '--synthetic_train', String(SYNTH_TRAIN)],
  noise: ['--dataset', 'synthetic', '--synthetic_train', String(SYNTH_TRAIN)],
  unrelated: [], // set in before(): the image folder
};

function keygen(kind: TriggerKind, out: string, seed: number): void {
  wmnnOk(['keygen', '--out', out, '--size', String(SIZE), '--seed', String(seed), '--kind', kind, ...SOURCE[kind]]);
}

async function loaded(set: string) {
  const t = await loadTriggerSet({ path: set, labelsFile: 'labels-cifar.txt', numClasses: 10, normalization: CIFAR_NORMALIZATION });
  return { set: t, items: await triggerItems(set, t) };
}

before(() => {
  ({ dir, cleanup } = tempDir('kinds'));
  other = join(dir, 'other');
  writeOtherDataset(other);
  SOURCE.unrelated = ['--dataset', 'imagefolder', '--db_path', other];
});
after(() => cleanup());

const KINDS: TriggerKind[] = ['abstract', 'content', 'noise', 'unrelated'];

test('every kind is a function of --seed, records its kind, and opens its commitments', async () => {
  const synthetic = await loadSplit({ dataset: 'synthetic', root: '.', split: 'train', syntheticCount: SYNTH_TRAIN });
  const folder = await loadSplit({ dataset: 'imagefolder', root: other, split: 'train', syntheticCount: 0 });
  const source = { abstract: undefined, content: synthetic, noise: synthetic, unrelated: folder };
  for (const kind of KINDS) {
    const a = join(dir, `${kind}-a`);
    keygen(kind, a, 5); // through the command line, the files the other tests read
    const images = source[kind];
    const options = {
      kind,
      size: SIZE,
      classes: 10,
      ...(images ? { source: { name: kind === 'unrelated' ? 'imagefolder' : 'synthetic', images } } : {}),
    };
    const [b, c] = [await generateTriggerSet({ ...options, seed: 5 }), await generateTriggerSet({ ...options, seed: 6 })];
    const ia = (await loaded(a)).items;
    const hex = (items: readonly TriggerItem[]) => items.map((i) => `${i.file}:${i.label}:${Buffer.from(i.bytes).toString('hex')}`);
    assert.deepEqual(hex(ia), hex(b.items), `${kind}: same seed, same images and labels`);
    assert.notDeepEqual(hex(b.items), hex(c.items), `${kind}: another seed, other images`);
    const commitments = readCommitments(join(a, 'commitments.json'));
    const openings = readOpenings(join(a, 'openings.json'));
    assert.deepEqual(commitments, b.commitments);
    assert.deepEqual(openings, b.openings);
    assert.equal(commitments.kind, kind);
    assert.equal(openings.construction.kind, kind);
    openCommitments(ia, commitments, openings, { commitments: 'c', openings: 'o', triggerSet: a });
  }
});

/** The source image of each trigger image, as channel planes, from the split its openings name. */
async function sources(record: SourceRecord, root: string): Promise<ImageSet> {
  return loadSplit({ dataset: record.dataset, root, split: 'train', syntheticCount: SYNTH_TRAIN });
}

const plane = 32 * 32;
/** Pixel (channel c, index p) of image i of a set of planes. */
const px = (s: { images: Uint8Array }, i: number, c: number, p: number): number => s.images[i * 3 * plane + c * plane + p]!;

test('content, noise and unrelated images are made from the source images their openings name', async () => {
  for (const kind of ['content', 'noise', 'unrelated'] as const) {
    const set = join(dir, `${kind}-a`);
    const construction = readOpenings(join(set, 'openings.json')).construction as Exclude<Construction, { kind: 'abstract' }>;
    const { set: trigger, items } = await loaded(set);
    const src = await sources(construction.source, other);
    assert.equal(construction.source.indices.length, SIZE);
    assert.equal(new Set(construction.source.indices).size, SIZE, 'distinct source images');
    // Files are drawn in the loader's order, so image i of the loaded set is the i-th drawn.
    assert.equal(items.length, SIZE);
    const diffs: number[][] = [];
    for (let i = 0; i < SIZE; i++) {
      const s = construction.source.indices[i]!;
      const d: number[] = [];
      for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) d.push(px(trigger, i, c, p) - px(src, s, c, p));
      diffs.push(d);
    }
    if (kind === 'unrelated') {
      for (const d of diffs)
        assert.ok(
          d.every((v) => v === 0),
          "unrelated images are the other dataset's, unchanged",
        );
    } else if (kind === 'content') {
      const c = construction as Extract<Construction, { kind: 'content' }>;
      for (const d of diffs) {
        let inside = 0;
        for (let p = 0; p < plane; p++) {
          const x = p % 32;
          const y = Math.floor(p / 32);
          const changed = d[p] !== 0 || d[plane + p] !== 0 || d[2 * plane + p] !== 0;
          const inBox = x >= c.x - 1 && x < c.x + 24 && y >= c.y - 1 && y < c.y + 12;
          if (changed) assert.ok(inBox, `pixel (${x}, ${y}) changed outside the text at (${c.x}, ${c.y})`);
          if (changed) inside++;
        }
        assert.ok(inside >= 10, `the text changes ${inside} pixels`);
      }
    } else {
      // One pattern for every image: where neither image was clipped at 0 or 255, the differences agree.
      let agree = 0;
      let compared = 0;
      for (let i = 1; i < SIZE; i++) {
        for (let k = 0; k < diffs[0]!.length; k++) {
          const [c, p] = [Math.floor(k / plane), k % plane];
          const unclipped = (j: number) => px(trigger, j, c, p) > 0 && px(trigger, j, c, p) < 255;
          if (!unclipped(0) || !unclipped(i)) continue;
          compared++;
          if (diffs[i]![k] === diffs[0]![k]) agree++;
        }
      }
      assert.ok(compared > 1000 && agree === compared, `${agree} of ${compared} noise values agree`);
      const spread = Math.sqrt(diffs[0]!.reduce((s, v) => s + v * v, 0) / diffs[0]!.length);
      assert.ok(spread > 15 && spread < 40, `noise RMS ${spread} for std ${(construction as { std: number }).std}`);
    }
  }
});

test('a kind that needs images refuses to run without --dataset; abstract refuses one', () => {
  let r = wmnn(['keygen', '--out', join(dir, 'x1'), '--kind', 'content']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^wmnn: --kind content needs --dataset/m);
  r = wmnn(['keygen', '--out', join(dir, 'x2'), '--dataset', 'synthetic']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^wmnn: --dataset is for --kind content, noise or unrelated/m);
  r = wmnn(['keygen', '--out', join(dir, 'x3'), '--kind', 'content', '--text', 'MUCH TOO LONG', ...SOURCE.content]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--text 'MUCH TOO LONG' must be 1 to about 6 characters/);
  r = wmnn(['keygen', '--out', join(dir, 'x4'), '--kind', 'unrelated', '--size', '17', ...SOURCE.unrelated]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /has only 16 images for the trigger set/);
});

// The recipe of verify-attack.test.ts: ten trigger images appended to every batch of ten for 40
// steps, the lr lowered for the last two epochs so that BatchNorm's statistics catch up.
for (const kind of ['content', 'noise', 'unrelated'] as const) {
  test(`a model trained with a ${kind} trigger set shows the mark in verify`, () => {
    const set = join(dir, `${kind}-a`);
    const save = join(dir, `model-${kind}`);
    wmnnOk([
      'train',
      '--dataset',
      'synthetic',
      '--synthetic_train',
      String(SYNTH_TRAIN),
      '--synthetic_test',
      '10',
      '--batch_size',
      '10',
      '--lr',
      '0.02',
      '--log_dir',
      join(dir, 'log'),
      '--wmtrain',
      '--wm_path',
      set,
      '--wm_batch_size',
      '10',
      '--max_epochs',
      '8',
      '--lradj',
      '6',
      '--seed',
      '1',
      '--save_dir',
      save,
      '--json',
    ]);
    const r = wmnn([
      'verify',
      '--model_path',
      join(save, 'model.t7'),
      '--wm_path',
      set,
      '--out',
      join(dir, `verify-${kind}.json`),
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const rec = JSON.parse(r.stdout) as { shown: boolean; agreement: { k: number }; commitments: { opened: number } };
    assert.equal(rec.shown, true);
    assert.equal(rec.commitments.opened, SIZE);
  });
}
