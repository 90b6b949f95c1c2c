// A wmnn command run as a child process with --json (reproduce's steps, calibrate's unmarked
// models): the same node, flags (tsx in the tests) and entry point as this process; its stdout is
// the one JSON object, its stderr (warnings, errors) goes to ours.
import { spawn } from 'node:child_process';

export interface ChildResult {
  /** Its exit status (130 when Ctrl-C ended it). */
  status: number;
  /** What it printed, parsed; null when it printed nothing that parses. */
  json: unknown;
  seconds: number;
}

export function runWmnn(args: readonly string[]): Promise<ChildResult> {
  const t0 = performance.now();
  const argv = [...process.execArgv, process.argv[1] as string, ...args, '--json'];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', fail);
    child.on('close', (code, signal) => {
      const status = code ?? (signal === 'SIGINT' ? 130 : 1);
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = text.trim() === '' ? null : JSON.parse(text);
      } catch {
        json = null;
      }
      done({ status, json, seconds: (performance.now() - t0) / 1000 });
    });
  });
}
