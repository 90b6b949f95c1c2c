// Tensors between the engine, .npy files and comparisons, for the tests that check against PyTorch.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../../src/checkpoint/npy.js';
import type { Model } from '../../src/native/engine.js';
import type { Tensor } from '../../src/tensor.js';

/** Every state_dict entry of `model` as DIR/<name>.npy. */
export function saveState(model: Model, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, t] of model.stateDict()) writeFileSync(join(dir, `${name}.npy`), writeNpy(t));
}

export function loadNpy(path: string): Tensor {
  return readNpy(new Uint8Array(readFileSync(path)));
}

/** max |a - b| relative to max |b| (the tensor's own scale). */
export function relativeError(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = Number(a.data[i]);
    const y = Number(b.data[i]);
    diff = Math.max(diff, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(y));
  }
  return scale === 0 ? diff : diff / scale;
}
