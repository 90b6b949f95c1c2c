// The post-training and query-time attacks against PyTorch and PIL on the same tensors and images:
// weight quantization (levels, at most 2^bits values per tensor), the JPEG round trip, the median
// filter, and Gaussian noise -- and that a zero-strength transform changes nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { IMAGE_BYTES } from '../../src/data/dataset.js';
import { synthetic } from '../../src/data/synthetic.js';
import { Model } from '../../src/native/engine.js';
import { bytesOf } from '../../src/tensor.js';
import { transformImages } from '../../src/watermark/input-transforms.js';
import { fakeQuantize, quantParams, WeightQuantizer } from '../../src/watermark/quantize.js';
import { attackedWeights } from '../../src/watermark/weights.js';
import { PythonWorker } from '../helpers/python.js';

const py = new PythonWorker('attack_ref.py');
after(() => py.close());

const b64 = (a: ArrayBufferView): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const f32 = (s: string): Float32Array => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const u8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

const model = new Model({ numClasses: 10, device: 'cpu', seed: 4 });

test("quantized weights equal PyTorch's MinMaxObserver + fake_quantize (1e-5) and take at most 2^bits values", async () => {
  // Three real weight tensors (one all of one sign after a shift, to test the zero-including range).
  const conv = model.read('layer3.0.conv1.weight').data as Float32Array;
  const linear = model.read('linear.weight').data as Float32Array;
  const positive = Float32Array.from(linear, (v) => Math.abs(v) + 0.01);
  for (const x of [conv.subarray(0, 20000), linear, positive]) {
    for (const bits of [8, 6, 4, 2]) {
      const q = quantParams(x, bits);
      const ours = fakeQuantize(x, q);
      const theirs = await py.request<{ y: string; scale: number; zero_point: number }>({ job: 'quantize', x: b64(x), bits });
      assert.equal(q.zeroPoint, theirs.zero_point, `${bits} bits: zero point`);
      assert.equal(Math.fround(q.scale), Math.fround(theirs.scale), `${bits} bits: scale`);
      const y = f32(theirs.y);
      let maxDiff = 0;
      for (let i = 0; i < y.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - y[i]!));
      assert.ok(maxDiff <= 1e-5, `${bits} bits: max |diff| ${maxDiff}`);
      assert.ok(new Set(ours).size <= 2 ** bits, `${bits} bits: ${new Set(ours).size} values`);
      if (x === positive) assert.ok(ours.every((v) => v >= 0));
    }
  }
});

test('the quantizer rewrites every conv and linear weight, leaves the rest, and restores the original', () => {
  const before = new Map(model.stateDict());
  const quantizer = new WeightQuantizer(model);
  const r = quantizer.apply(4);
  assert.equal(r.tensors, 21);
  assert.ok(r.maxDistinct <= 16 && r.maxDistinct > 8, `${r.maxDistinct} values`);
  const names = new Set(attackedWeights(model));
  for (const [name, t] of model.stateDict()) {
    const same = Buffer.from(bytesOf(t.data)).equals(Buffer.from(bytesOf(before.get(name)!.data)));
    assert.equal(same, !names.has(name), name);
    if (names.has(name)) assert.ok(new Set(t.data as Float32Array).size <= 16, name);
  }
  quantizer.restore();
  for (const [name, t] of model.stateDict())
    assert.ok(Buffer.from(bytesOf(t.data)).equals(Buffer.from(bytesOf(before.get(name)!.data))), name);
});

const set = synthetic({ split: 'test', count: 6, seed: 9 });
const PLANE = 1024;
/** Channel planes -> N x 32 x 32 x 3, as PIL holds images. */
function interleave(images: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * IMAGE_BYTES);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < PLANE; p++) for (let c = 0; c < 3; c++) out[i * IMAGE_BYTES + p * 3 + c] = images[i * IMAGE_BYTES + c * PLANE + p]!;
  return out;
}

test("the JPEG round trip is PIL's, pixel for pixel, and changes the images", async () => {
  for (const quality of [90, 50, 10]) {
    const ours = transformImages(set, { kind: 'jpeg', quality });
    const theirs = await py.request<{ rgb: string }>({ job: 'jpeg', rgb: b64(interleave(set.images, set.count)), n: set.count, quality });
    assert.deepEqual(Buffer.from(interleave(ours.images, set.count)), Buffer.from(u8(theirs.rgb)), `quality ${quality}`);
    const changed = ours.images.filter((v, i) => v !== set.images[i]).length;
    assert.ok(changed > ours.images.length / 10, `quality ${quality}: ${changed} values changed`);
    assert.deepEqual(ours.labels, set.labels);
  }
});

test("the median filter is PIL's MedianFilter; size 1 and noise std 0 change nothing", async () => {
  for (const size of [3, 5]) {
    const ours = transformImages(set, { kind: 'median', size });
    const theirs = await py.request<{ rgb: string }>({ job: 'median', rgb: b64(interleave(set.images, set.count)), n: set.count, size });
    assert.deepEqual(Buffer.from(interleave(ours.images, set.count)), Buffer.from(u8(theirs.rgb)), `size ${size}`);
  }
  assert.deepEqual(transformImages(set, { kind: 'median', size: 1 }).images, set.images);
  assert.deepEqual(transformImages(set, { kind: 'noise', std: 0, seed: 1 }).images, set.images);
  assert.throws(() => transformImages(set, { kind: 'median', size: 4 }), /odd integer/);
});

test('Gaussian noise has the asked spread, is a function of its seed, and is clipped to 0..255', () => {
  const a = transformImages(set, { kind: 'noise', std: 10, seed: 3 });
  assert.deepEqual(transformImages(set, { kind: 'noise', std: 10, seed: 3 }).images, a.images);
  assert.notDeepEqual(transformImages(set, { kind: 'noise', std: 10, seed: 4 }).images, a.images);
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let i = 0; i < a.images.length; i++) {
    const o = set.images[i]!;
    if (o < 40 || o > 215) continue; // away from clipping
    const d = a.images[i]! - o;
    sum += d;
    sq += d * d;
    n++;
  }
  const mean = sum / n;
  const std = Math.sqrt(sq / n - mean * mean);
  assert.ok(n > 5000 && Math.abs(mean) < 0.5 && Math.abs(std - 10) < 0.5, `mean ${mean}, std ${std} over ${n}`);
});
