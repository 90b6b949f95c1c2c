// `--nproc N`: this process becomes a local launcher, as torchrun is. It starts N copies of the
// same command with the torchrun environment (one rank each), shows rank 0's output as its own
// and every other rank's errors, forwards Ctrl-C, and supervises: when a rank fails, the others
// get --timeout seconds to end on their own (they notice through their collectives) before they
// are killed, and the launcher exits with the failing rank's status.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { constants } from 'node:os';
import { rendezvousFromEnv } from './env.js';

/** Marks a launched worker, so that it does not launch again and stops when its launcher is gone. */
export const LAUNCHER_PID = 'WMNN_LAUNCHER_PID';
/** 128 + SIGINT: every rank stopped on Ctrl-C after saving. */
const EXIT_INTERRUPTED = 130;
/** How long a rank's error line is held back, to drop it when rank 0 reports the same line. */
const ECHO_WINDOW_MS = 1000;
/** How often a worker checks that its launcher is still there. */
const LAUNCHER_POLL_MS = 1000;

type Env = Readonly<Record<string, string | undefined>>;

/** --nproc's value: a count, or `auto` (one rank per visible GPU, else one). */
export function parseNproc(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--nproc must be a positive integer or auto, got '${value}'`);
  return Number(value);
}

/**
 * How many workers this command line should start: 0 when this process runs the command itself
 * (one rank, or already a rank of a launched job).
 */
export function workersToStart(nproc: number | 'auto', device: string, cudaDevices: () => number, env: Env = process.env): number {
  const launched = env[LAUNCHER_PID] !== undefined || rendezvousFromEnv(env) !== null;
  const gpus = nproc === 'auto' && device !== 'cpu' ? cudaDevices() : 0;
  const n = nproc === 'auto' ? Math.max(1, gpus) : nproc;
  if (launched) {
    if (nproc !== 'auto' && nproc > 1 && env[LAUNCHER_PID] === undefined) {
      throw new Error(
        `--nproc ${nproc}: this process is already a rank of a launched job (WORLD_SIZE=${env.WORLD_SIZE ?? env.SLURM_STEP_NUM_TASKS}); leave --nproc out under torchrun or srun`,
      );
    }
    return 0;
  }
  return n > 1 ? n : 0;
}

/** A TCP port free on this machine now, for the rendezvous of a local job. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

export interface LaunchOptions {
  workers: number;
  /** wmnn's arguments, the same for every worker. */
  args: readonly string[];
  timeoutSeconds: number;
  env?: NodeJS.ProcessEnv;
  /** The launcher's own error output. */
  stderr?: (text: string) => void;
}

interface Worker {
  rank: number;
  child: ChildProcess;
  exit?: { code: number; signal: NodeJS.Signals | null };
}

/** Exit status as a shell reports it: the code, or 128 + the signal's number. */
const statusOf = (code: number | null, signal: NodeJS.Signals | null): number =>
  signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1);

/** Splits a stream into lines and hands each complete one to `line`. */
function lines(stream: NodeJS.ReadableStream, line: (text: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    rest += chunk;
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) line(p);
  });
  stream.on('end', () => {
    if (rest !== '') line(rest);
  });
}

/** Runs the job; resolves with the exit status the launcher should end with. */
export async function launchLocal(opts: LaunchOptions): Promise<number> {
  const env = opts.env ?? process.env;
  const write = opts.stderr ?? ((s: string) => void process.stderr.write(s));
  const masterAddr = env.MASTER_ADDR || '127.0.0.1';
  const masterPort = env.MASTER_PORT || String(await freePort(masterAddr));
  const script = process.argv[1] as string; // bin/wmnn.js, or the sources under tsx
  const seenFromRank0 = new Set<string>();
  const workers: Worker[] = [];
  for (let rank = 0; rank < opts.workers; rank++) {
    const child = spawn(process.execPath, [...process.execArgv, script, ...opts.args], {
      env: {
        ...env,
        MASTER_ADDR: masterAddr,
        MASTER_PORT: masterPort,
        WORLD_SIZE: String(opts.workers),
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(opts.workers),
        [LAUNCHER_PID]: String(process.pid),
      },
      // Rank 0 writes to this terminal itself (its progress bar stays a bar); the other ranks
      // print nothing but errors. Own process groups: a Ctrl-C reaches the workers once, through
      // the launcher, and not twice (which would mean "quit now").
      stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe'],
      detached: true,
    });
    workers.push({ rank, child });
    if (rank === 0) {
      lines(child.stderr as NodeJS.ReadableStream, (l) => {
        seenFromRank0.add(l);
        write(`${l}\n`);
      });
    } else {
      lines(child.stderr as NodeJS.ReadableStream, (l) => {
        setTimeout(() => {
          if (!seenFromRank0.has(l)) write(`[rank ${rank}] ${l}\n`);
        }, ECHO_WINDOW_MS);
      });
    }
  }

  const forward = (signal: NodeJS.Signals) => () => {
    for (const w of workers) if (!w.exit) w.child.kill(signal);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onTerm);

  let failure: { rank: number; status: number; signal: NodeJS.Signals | null } | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const killed: number[] = [];
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.child.on('close', (code, signal) => {
              w.exit = { code: statusOf(code, signal), signal };
              const status = w.exit.code;
              if (!failure && status !== 0 && status !== EXIT_INTERRUPTED) {
                failure = { rank: w.rank, status, signal };
                // The others see the failure in their next collective; give them that long.
                killTimer = setTimeout(() => {
                  for (const o of workers) {
                    if (!o.exit) {
                      killed.push(o.rank);
                      o.child.kill('SIGKILL');
                    }
                  }
                }, opts.timeoutSeconds * 1000);
              }
              resolve();
            });
          }),
      ),
    );
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onTerm);
  }
  await new Promise((r) => setTimeout(r, ECHO_WINDOW_MS)); // let held-back error lines out
  if (failure) {
    if (failure.signal && !killed.includes(failure.rank))
      write(`wmnn: rank ${failure.rank} of ${opts.workers} was killed by ${failure.signal}\n`);
    if (killed.length > 0) {
      write(`wmnn: rank ${killed.join(', ')} had not ended ${opts.timeoutSeconds} s after rank ${failure.rank} failed, and was killed\n`);
    }
    return failure.status;
  }
  return workers.some((w) => w.exit?.code === EXIT_INTERRUPTED) ? EXIT_INTERRUPTED : 0;
}

/** In a launched worker: end when the launcher is gone (killed), instead of running on unseen. */
export function watchLauncher(env: Env = process.env): void {
  const pid = env[LAUNCHER_PID];
  if (pid === undefined) return;
  const timer = setInterval(() => {
    if (process.ppid !== Number(pid)) {
      process.stderr.write(`wmnn: rank ${env.RANK}: its launcher (pid ${pid}) is gone; stopping\n`);
      process.exit(1);
    }
  }, LAUNCHER_POLL_MS);
  timer.unref();
}
