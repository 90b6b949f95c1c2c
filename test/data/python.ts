// Runs the reference Python (Debian's torch/torchvision/PIL, never the `python3` on PATH).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PYTHON = '/usr/bin/python3';

/** Runs a script under test/reference (or inline code with '-c') and returns its stdout. */
export function python(args: string[], input?: string): string {
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 28, input });
  if (r.status !== 0) throw new Error(`${PYTHON} ${args.slice(0, 2).join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function referenceScript(name: string): string {
  return fileURLToPath(new URL(`../reference/${name}`, import.meta.url));
}

export interface ReferenceImages {
  files: string[];
  targets: number[];
  pixels: Uint8Array;
  labels?: number[];
}

/** torchvision's ImageFolder over `root`, each image CenterCrop(32)-ed or Resize((32, 32))-d. */
export function referenceImages(root: string, mode: 'crop' | 'resize', labelsFile?: string): ReferenceImages {
  const args = [referenceScript('data_images.py'), root, mode, ...(labelsFile ? [labelsFile] : [])];
  const out = JSON.parse(python(args)) as Omit<ReferenceImages, 'pixels'> & { pixels: string };
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
