// The addon's decodeJpeg: what it returns, and that bad input throws instead of ending the process.
// (Pixel equality with PIL on real files is in trigger-set.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeJpeg } from '../../src/data/jpeg.js';
import { tempDir } from '../helpers/python.js';
import { makePhotos } from './python.js';

const { dir, cleanup } = tempDir('jpeg');
let PHOTO = '';
before(() => {
  PHOTO = makePhotos(dir, 1)[0]!; // 720x480
});
after(cleanup);

test('a colour JPEG decodes to width x height x 3 bytes', () => {
  const image = decodeJpeg(new Uint8Array(readFileSync(PHOTO)));
  assert.deepEqual([image.width, image.height, image.channels], [720, 480, 3]);
  assert.equal(image.data.length, 720 * 480 * 3);
});

test('bad input throws a JS error and the process goes on', () => {
  const bytes = new Uint8Array(readFileSync(PHOTO));
  assert.throws(() => decodeJpeg(bytes.subarray(0, bytes.length >> 1)), /^Error: JPEG decoding failed: Premature end of JPEG file$/);
  assert.throws(() => decodeJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0x00, 1, 2, 3])), /^Error: JPEG decoding failed: /);
  assert.throws(() => decodeJpeg('not bytes' as unknown as Uint8Array), /^TypeError: decodeJpeg expects a Uint8Array$/);
  // Still usable after the errors (no corrupted global state).
  assert.equal(decodeJpeg(bytes).width, 720);
});
