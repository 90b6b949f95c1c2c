// Runs the wmnn command line from the sources (through tsx), as a user would run it.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ENTRY = resolve('src/cli/index.ts');
// An absolute tsx, so that a command run in another folder (a test's temporary cwd) still finds it.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

export function wmnn(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const r = spawnSync(process.execPath, ['--import', TSX, ENTRY, ...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs wmnn and expects success; returns the parsed --json object when `json` is set. */
export function wmnnOk(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const r = wmnn(args, opts);
  if (r.status !== 0) throw new Error(`wmnn ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  return r;
}
