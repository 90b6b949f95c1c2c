// The wmnn command line as a child process that reports its own cost: exit status, CPU time and
// peak resident memory, measured by the child itself (getrusage) and sent as one JSON line on file
// descriptor 3. It works wherever Node does (no /usr/bin/time).
//
// The sources are bundled once per test file with esbuild (what tsx compiles with), so that a
// child starts in a few hundred milliseconds of CPU instead of paying tsx's loader for every module:
// suites that start dozens of children stay within their time. The bundle lives two folders below
// the repository root, as src/<folder>/<module>.ts does, so `import.meta.url`-relative paths (the
// addon, package.json) resolve as they do from the sources.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { build } from 'esbuild';

const ENTRY = resolve('test/helpers/measured-main.ts');
const BUNDLES = resolve('build/test-cli');

export interface MeasuredRun {
  /** null when the child was killed (after `killAfterMs`) or ended by a signal. */
  code: number | null;
  cpuMs: number;
  maxRssBytes: number;
  wallMs: number;
  stdout: string;
  stderr: string;
}

export interface MeasuredCli {
  run(args: readonly string[], opts?: { killAfterMs?: number; cwd?: string }): Promise<MeasuredRun>;
  cleanup(): void;
}

/** Bundles the CLI as it is in src/ now; `cleanup` removes the bundle. */
export async function measuredCli(tag: string): Promise<MeasuredCli> {
  mkdirSync(BUNDLES, { recursive: true });
  const bundle = join(BUNDLES, `${tag}-${process.pid}.mjs`);
  await build({
    entryPoints: [ENTRY],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  return {
    run: (args, opts = {}) => runMeasured(bundle, args, opts.killAfterMs ?? 60_000, opts.cwd),
    cleanup: () => rmSync(bundle, { force: true }),
  };
}

/** The chunks a piped stream of the child delivers. */
function collect(stream: Readable | Writable | null | undefined): Buffer[] {
  if (!(stream instanceof Readable)) throw new Error('the child was spawned without that pipe');
  const chunks: Buffer[] = [];
  stream.on('data', (b: Buffer) => chunks.push(b));
  return chunks;
}

function runMeasured(bundle: string, args: readonly string[], killAfterMs: number, cwd?: string): Promise<MeasuredRun> {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
    const [out, err, usage] = [1, 2, 3].map((fd) => collect(child.stdio[fd])) as [Buffer[], Buffer[], Buffer[]];
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      const text = Buffer.concat(usage).toString('utf8').trim();
      const u = text ? (JSON.parse(text) as { cpuMs: number; maxRssBytes: number }) : { cpuMs: NaN, maxRssBytes: NaN };
      resolvePromise({
        code,
        cpuMs: u.cpuMs,
        maxRssBytes: u.maxRssBytes,
        wallMs: performance.now() - t0,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
