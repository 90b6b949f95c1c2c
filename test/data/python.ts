// torchvision's view of image folders, for the data tests (run by the reference Python).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { referenceScript, runPython } from '../helpers/python.js';

export interface ReferenceImages {
  files: string[];
  targets: number[];
  pixels: Uint8Array;
  labels?: number[];
}

/** torchvision's ImageFolder over `root`, each image CenterCrop(32)-ed or Resize((32, 32))-d. */
export function referenceImages(root: string, mode: 'crop' | 'resize', labelsFile?: string): ReferenceImages {
  const args = [referenceScript('data_images.py'), root, mode, ...(labelsFile ? [labelsFile] : [])];
  const out = JSON.parse(runPython(args)) as Omit<ReferenceImages, 'pixels'> & { pixels: string };
  return { ...out, pixels: new Uint8Array(Buffer.from(out.pixels, 'base64')) };
}

/** Indexes of the images (of `bytesPerImage` each) whose bytes differ, for readable failures. */
export function differingImages(a: Uint8Array, b: Uint8Array, bytesPerImage: number): number[] {
  const out: number[] = [];
  for (let i = 0; i * bytesPerImage < Math.max(a.length, b.length); i++) {
    const x = a.subarray(i * bytesPerImage, (i + 1) * bytesPerImage);
    const y = b.subarray(i * bytesPerImage, (i + 1) * bytesPerImage);
    if (Buffer.compare(x, y) !== 0) out.push(i);
  }
  return out;
}

/**
 * Writes `count` photo-sized JPEGs (720x480 up to 1489x838) through PIL into `dir`: 1.jpg, 2.jpg, ...;
 * with `variants`, also one JPEG per other layout (4:2:2, 4:4:4, odd sizes, progressive, grey, CMYK).
 */
export function makePhotos(dir: string, count: number, variants = false): string[] {
  runPython([referenceScript('data_make_photos.py'), dir, String(count), ...(variants ? ['variants'] : [])]);
  const photos = Array.from({ length: count }, (_, i) => join(dir, `${i + 1}.jpg`));
  return variants ? [...photos, ...readdirSync(dir).filter((f) => f.startsWith('v-')).sort().map((f) => join(dir, f))] : photos;
}
