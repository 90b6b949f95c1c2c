// The reference implementation for tests: Debian's PyTorch 1.13 (/usr/bin/python3, never the
// `python3` on PATH), with test/reference on PYTHONPATH so `models.resnet` resolves.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REFERENCE = resolve('test/reference');
export const PYTHON = '/usr/bin/python3';

/** Runs test/reference/<script> and returns its stdout; throws with its stderr on failure. */
export function runReference(script: string, args: string[], input?: string): string {
  return execFileSync(PYTHON, [join(REFERENCE, script), ...args], {
    env: { ...process.env, PYTHONPATH: REFERENCE, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1' },
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(input !== undefined ? { input } : {}),
  });
}

/** A fresh temporary folder, removed by the returned function. */
export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `wmnn-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
