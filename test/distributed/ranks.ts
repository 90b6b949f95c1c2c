// Starting the ranks of a test job by hand, as an external launcher (torchrun, srun) would: one
// process per rank with the torchrun environment, on 127.0.0.1 and a port free at run time.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A TCP port nobody listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface Ended {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Seconds from start to exit. */
  seconds: number;
}

export interface Rank {
  child: ChildProcess;
  ended: Promise<Ended>;
}

/** The environment torchrun gives rank `rank` of `worldSize` on one machine. */
export function torchrunEnv(rank: number, worldSize: number, port: number): NodeJS.ProcessEnv {
  return {
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    WORLD_SIZE: String(worldSize),
    RANK: String(rank),
    LOCAL_RANK: String(rank),
    LOCAL_WORLD_SIZE: String(worldSize),
  };
}

/** Runs `node --import tsx ARGS` with `env` added; output is collected. */
export function startNode(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): Rank {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const ended = new Promise<Ended>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
  return { child, ended };
}

/** Fails with every rank's output when a rank did not exit 0. */
export function expectAllOk(ended: Ended[]): void {
  const bad = ended.map((e, r) => ({ e, r })).filter(({ e }) => e.status !== 0);
  if (bad.length > 0) {
    throw new Error(bad.map(({ e, r }) => `rank ${r} exited ${e.status ?? e.signal}:\n${e.stderr}\n${e.stdout.slice(-2000)}`).join('\n'));
  }
}
