// Shared by the checkpoint tests: run the reference PyTorch (Debian's /usr/bin/python3) on the
// helpers in test/reference/, temp folders, and tensor digests.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bytesOf, type Tensor } from '../../src/tensor.js';

export const REFERENCE = resolve('test/reference');
export const PYTHON = '/usr/bin/python3';

/** Run a helper script under test/reference with PYTHONPATH set so that `models.resnet` resolves. */
export function python(script: string, args: string[], input?: string): string {
  return execFileSync(PYTHON, [join(REFERENCE, script), ...args], {
    env: { ...process.env, PYTHONPATH: REFERENCE, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    ...(input !== undefined ? { input } : {}),
  });
}

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `wmnn-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function tensorSha(t: Tensor): string {
  return sha256(bytesOf(t.data));
}
