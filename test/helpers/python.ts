// The reference implementation for tests: Debian's PyTorch 1.13 (/usr/bin/python3, never the
// `python3` on PATH), with test/reference on PYTHONPATH so `models.resnet` resolves; plus the
// temp folders and digests the tests share.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { bytesOf, type Tensor } from '../../src/tensor.js';

export const REFERENCE = resolve('test/reference');
/** Kept here too for the tests that import it from this module (the resolution is in paper-trigger-set.ts). */
export { PAPER_SKIP, PAPER_TRIGGER_SET } from './paper-trigger-set.js';
/** WMNN_REFERENCE_PYTHON: another PyTorch, where Debian's is absent (scripts/device-check.sh). */
export const PYTHON = process.env.WMNN_REFERENCE_PYTHON ?? '/usr/bin/python3';
const PY_ENV = { ...process.env, PYTHONPATH: REFERENCE, PYTHONDONTWRITEBYTECODE: '1', OMP_NUM_THREADS: '1' };

/** Runs the reference Python with `args` (a script path, or '-c' and code); returns stdout. */
export function runPython(args: string[], input?: string): string {
  return execFileSync(PYTHON, args, {
    env: PY_ENV,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(input !== undefined ? { input } : {}),
  });
}

export function referenceScript(name: string): string {
  return join(REFERENCE, name);
}

/** Runs test/reference/<script>; throws with its stderr on failure. */
export function runReference(script: string, args: string[], input?: string): string {
  return runPython([referenceScript(script), ...args], input);
}

/**
 * A helper script kept running: each request is one line of JSON in, one line of JSON out.
 * Tests that ask PyTorch several questions pay for importing torch once.
 */
export class PythonWorker {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = '';
  private stderr = '';
  private waiting: ((line: string) => void) | null = null;

  constructor(script: string) {
    this.child = spawn(PYTHON, [referenceScript(script)], { env: PY_ENV });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (d: string) => {
      this.stderr += d;
    });
    this.child.stdout.on('data', (d: string) => {
      this.buffered += d;
      const nl = this.buffered.indexOf('\n');
      if (nl >= 0 && this.waiting) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const w = this.waiting;
        this.waiting = null;
        w(line);
      }
    });
  }

  request<T>(value: unknown): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`python exited (${code}): ${this.stderr}`));
      this.child.once('exit', onExit);
      this.waiting = (line) => {
        this.child.off('exit', onExit);
        resolvePromise(JSON.parse(line) as T);
      };
      this.child.stdin.write(`${JSON.stringify(value)}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** A fresh temporary folder, removed by the returned function. */
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
