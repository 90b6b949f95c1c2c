// Joining the job this process was launched into (torchrun, srun or `wmnn --nproc N`): the
// rendezvous from the environment, this rank's device and threads, and the process group.
import { cpus } from 'node:os';
import { buildInfo } from '../native/engine.js';
import { ProcessGroup } from '../native/group.js';
import { rankDevice, rankThreads, rendezvousFromEnv, type Rendezvous } from './env.js';
import { watchLauncher } from './launcher.js';

export interface Job {
  group: ProcessGroup;
  rendezvous: Rendezvous;
  /** This rank's --device and --threads. */
  device: string;
  threads: number;
}

/** Seconds a rank waits for the others (joining, a collective) before it gives up: --timeout. */
export const DEFAULT_TIMEOUT_SECONDS = 60;

/**
 * The job of this process, or undefined when it runs alone. Blocks until every rank has joined
 * with the same command line (the fingerprint), or throws one line saying what went wrong.
 */
export function joinJob(engine: { device: string; threads: number }, timeoutSeconds: number, env = process.env): Job | undefined {
  const rendezvous = rendezvousFromEnv(env);
  if (!rendezvous) return undefined;
  const info = buildInfo();
  const device = rankDevice(engine.device, rendezvous, info.cudaAvailable ? info.cudaDevices : 0);
  const needs = device.startsWith('cuda') ? 'nccl' : 'gloo';
  if (!info.distributed.split(',').includes(needs)) {
    throw new Error(
      `this build of wmnn has no ${needs === 'nccl' ? 'NCCL' : 'Gloo'} for data-parallel runs on ${device}; see README, 'Multi-GPU and multi-node'`,
    );
  }
  watchLauncher(env);
  const group = new ProcessGroup({
    masterAddr: rendezvous.masterAddr,
    masterPort: rendezvous.masterPort,
    rank: rendezvous.rank,
    worldSize: rendezvous.worldSize,
    timeoutMs: timeoutSeconds * 1000,
    // Every rank must run the same command; the arguments are what can differ by mistake.
    fingerprint: process.argv.slice(2).join(' '),
  });
  return { group, rendezvous, device, threads: rankThreads(engine.threads, rendezvous, cpus().length, env) };
}
