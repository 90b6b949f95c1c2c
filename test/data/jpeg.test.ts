// The image codecs' decodeJpeg: what it returns, that bad input rejects instead of ending the
// process, that decoding a region gives exactly the full decode's pixels there, in every layout,
// and that it decodes without libtorch in the process. (Pixel equality with PIL on real files is
// in trigger-set.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJpeg, decodeJpegSync, jpegSize } from '../../src/data/jpeg.js';
import type { Rect } from '../../src/data/image.js';
import { tempDir } from '../helpers/python.js';
import { makePhotos } from './python.js';

const { dir, cleanup } = tempDir('jpeg');
let PHOTO = '';
before(() => {
  PHOTO = makePhotos(dir, 1)[0]!; // 720x480
});
after(cleanup);

test('JPEGs decode with libtorch never loaded: the codecs are an addon of their own', () => {
  // A process of its own, which decodes through src/data/jpeg.ts, then lists its mapped libraries.
  const script = `
    const { readFileSync } = await import('node:fs');
    const { decodeJpeg } = await import(${JSON.stringify(new URL('../../src/data/jpeg.ts', import.meta.url).href)});
    const image = await decodeJpeg(new Uint8Array(readFileSync(${JSON.stringify(PHOTO)})));
    const maps = readFileSync('/proc/self/maps', 'utf8');
    console.log(JSON.stringify({ width: image.width, jpeg: /libjpeg/.test(maps), torch: /libtorch|libc10/.test(maps) }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { width: 720, jpeg: true, torch: false });
});

test('a colour JPEG decodes to width x height x 3 bytes', async () => {
  const image = await decodeJpeg(new Uint8Array(readFileSync(PHOTO)));
  assert.deepEqual([image.width, image.height, image.channels], [720, 480, 3]);
  assert.equal(image.data.length, 720 * 480 * 3);
});

test('decodeJpegSync gives the pixels decodeJpeg gives, and throws where it rejects', async () => {
  const bytes = new Uint8Array(readFileSync(PHOTO));
  const now = decodeJpegSync(bytes);
  const later = await decodeJpeg(bytes);
  assert.deepEqual([now.width, now.height, now.channels], [later.width, later.height, later.channels]);
  assert.ok(Buffer.compare(now.data, later.data) === 0, 'the same pixels');
  assert.throws(() => decodeJpegSync(bytes.subarray(0, bytes.length >> 1)), /^Error: JPEG decoding failed: Premature end of JPEG file$/);
  assert.throws(() => decodeJpegSync('not bytes' as unknown as Uint8Array), /^TypeError: decodeJpegSync expects a Uint8Array$/);
});

test('bad input rejects with a JS error and the process goes on', async () => {
  const bytes = new Uint8Array(readFileSync(PHOTO));
  await assert.rejects(decodeJpeg(bytes.subarray(0, bytes.length >> 1)), /^Error: JPEG decoding failed: Premature end of JPEG file$/);
  await assert.rejects(decodeJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0x00, 1, 2, 3])), /^Error: JPEG decoding failed: /);
  assert.throws(() => decodeJpeg('not bytes' as unknown as Uint8Array), /^TypeError: decodeJpeg expects a Uint8Array$/);
  // Still usable after the errors (no corrupted global state).
  assert.equal((await decodeJpeg(bytes)).width, 720);
});

test('calls in flight together decode independently (the thread pool), each to its own pixels', async () => {
  const photos = makePhotos(join(dir, 'many'), 8).map((p) => new Uint8Array(readFileSync(p)));
  const one = [];
  for (const bytes of photos) one.push(await decodeJpeg(bytes));
  const together = await Promise.all(photos.map((bytes) => decodeJpeg(bytes)));
  for (const [i, image] of together.entries()) {
    assert.deepEqual([image.width, image.height], [one[i]!.width, one[i]!.height]);
    assert.ok(Buffer.compare(image.data, one[i]!.data) === 0, `image ${i}: the same pixels`);
  }
});

/** The pixels of `rect` cut out of a full decode (width x channels bytes per row). */
function cut(full: { width: number; data: Uint8Array }, channels: number, rect: Rect): Uint8Array {
  const out = new Uint8Array(rect.width * rect.height * channels);
  for (let y = 0; y < rect.height; y++) {
    const from = ((rect.top + y) * full.width + rect.left) * channels;
    out.set(full.data.subarray(from, from + rect.width * channels), y * rect.width * channels);
  }
  return out;
}

test('a region decodes to the full decode\'s pixels there: 4:2:0, 4:2:2, 4:4:4, odd sizes, progressive, grey, CMYK', async () => {
  const files = makePhotos(join(dir, 'variants'), 1, true);
  assert.equal(files.length, 7);
  for (const file of files) {
    const bytes = new Uint8Array(readFileSync(file));
    const full = await decodeJpeg(bytes);
    const { width: w, height: h } = full;
    assert.deepEqual(jpegSize(bytes), { width: w, height: h });
    const c = full.channels;
    let s = 12345;
    const rand = (n: number): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n;
    const rects: Rect[] = [
      { left: Math.round((w - 32) / 2), top: Math.round((h - 32) / 2), width: 32, height: 32 },
      { left: 0, top: 0, width: 32, height: 32 },
      { left: w - 32, top: h - 32, width: 32, height: 32 },
      { left: 0, top: 5, width: w, height: 1 },
      { left: 17, top: 0, width: 1, height: h },
      { left: 0, top: 0, width: w, height: h },
    ];
    for (let k = 0; k < 40; k++) {
      const left = rand(w);
      const top = rand(h);
      rects.push({ left, top, width: 1 + rand(w - left), height: 1 + rand(h - top) });
    }
    for (const rect of rects) {
      const part = await decodeJpeg(bytes, rect);
      assert.deepEqual([part.width, part.height, part.channels], [w, h, c]);
      if (Buffer.compare(part.data, cut(full, c, rect)) !== 0) {
        assert.fail(`${file}: region ${JSON.stringify(rect)} differs from the full decode`);
      }
    }
  }
});

test('a region of a truncated file is refused as the whole file is, wherever the cut; a region outside the image too', async () => {
  const bytes = new Uint8Array(readFileSync(PHOTO));
  const premature = /^Error: JPEG decoding failed: Premature end of JPEG file$/;
  const regions: Rect[] = [
    { left: 0, top: 0, width: 32, height: 32 },
    { left: 344, top: 224, width: 32, height: 32 },
    { left: 688, top: 448, width: 32, height: 32 },
  ];
  // Cuts above, inside and below each region, down to the last two bytes (the end marker).
  for (const keep of [0.2, 0.5, 0.9, 0.999]) {
    const cut = bytes.subarray(0, Math.floor(bytes.length * keep));
    await assert.rejects(decodeJpeg(cut), premature, `the whole file cut at ${keep}`);
    for (const region of regions) await assert.rejects(decodeJpeg(cut, region), premature, `${JSON.stringify(region)}, cut at ${keep}`);
  }
  for (const region of regions) await assert.rejects(decodeJpeg(bytes.subarray(0, bytes.length - 2), region), premature);
  await assert.rejects(decodeJpeg(bytes, { left: 700, top: 0, width: 32, height: 32 }), /region is not inside the 720x480 image/);
  assert.throws(() => decodeJpeg(bytes, { left: 0, top: 0, width: 0, height: 5 }), /^RangeError: decodeJpeg: the region is empty$/);
});
