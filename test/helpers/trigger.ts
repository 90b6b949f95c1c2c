// A small trigger set for tests, in the original's layout (DIR/pics/*.png + DIR/labels-cifar.txt
// with numpy.savetxt-style floats): random-noise 32x32 PNGs with random labels.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';

export function makeTriggerSet(dir: string, count: number, classes: number, seed: number): number[] {
  mkdirSync(join(dir, 'pics'), { recursive: true });
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const png = new PNG({ width: 32, height: 32 });
    for (let p = 0; p < 32 * 32; p++) {
      png.data[p * 4] = next() >>> 24;
      png.data[p * 4 + 1] = next() >>> 24;
      png.data[p * 4 + 2] = next() >>> 24;
      png.data[p * 4 + 3] = 255;
    }
    writeFileSync(join(dir, 'pics', `${i + 1}.png`), PNG.sync.write(png));
    labels.push(next() % classes);
  }
  writeFileSync(join(dir, 'labels-cifar.txt'), labels.map((l) => `${l.toExponential(18).replace(/e\+(\d)$/, 'e+0$1')}\n`).join(''));
  return labels;
}
