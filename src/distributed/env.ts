// Where a process stands in a data-parallel job, read from its environment as PyTorch's launchers
// set it: torchrun's MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK/LOCAL_RANK/LOCAL_WORLD_SIZE (which
// `wmnn --nproc N` sets too), or Slurm's srun variables mapped onto them. Also what follows from
// it for one rank: its device and its default thread count.

/** A process's place in a job of more than one rank. */
export interface Rendezvous {
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  /** The rank among the job's processes on this machine: its GPU is cuda:<localRank>. */
  localRank: number;
  localWorldSize: number;
  /** Which variables it came from, for messages. */
  source: 'torchrun' | 'slurm';
}

type Env = Readonly<Record<string, string | undefined>>;

/** Slurm jobs without MASTER_PORT derive one from the job id, so two jobs on a node differ. */
const SLURM_PORT_BASE = 15000;
const SLURM_PORT_SPAN = 20000;

function integer(env: Env, name: string, source: string, min: number): number {
  const text = env[name];
  if (text === undefined || text === '') throw new Error(`${name} is not set (${source}); it is needed to join the job`);
  if (!/^\d+$/.test(text.trim()) || Number(text) < min) throw new Error(`${name}=${text} is not an integer of at least ${min} (${source})`);
  return Number(text);
}

function port(env: Env, name: string, source: string): number {
  const p = integer(env, name, source, 1);
  if (p > 65535) throw new Error(`${name}=${p} is not a TCP port (${source})`);
  return p;
}

/** Slurm's compressed per-node task counts, "2(x3),1" -> [2, 2, 2, 1]. */
export function expandTasksPerNode(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(part.trim());
    if (!m) throw new Error(`cannot read Slurm's task counts '${text}'`);
    for (let i = 0; i < Number(m[2] ?? 1); i++) out.push(Number(m[1]));
  }
  return out;
}

/** The first host of a Slurm host list: "gpu[07-09,12],cpu1" -> "gpu07", "rack[1-2]-n[3-4]" -> "rack1-n3". */
export function firstHost(list: string): string {
  let depth = 0;
  let end = list.length;
  for (let i = 0; i < list.length; i++) {
    if (list[i] === '[') depth++;
    else if (list[i] === ']') depth--;
    else if (list[i] === ',' && depth === 0) {
      end = i;
      break;
    }
  }
  const host = list.slice(0, end).replace(/\[([^\]]*)\]/g, (_, ranges: string) => (ranges.split(',')[0] ?? '').split('-')[0] ?? '');
  if (host === '' || /[[\]]/.test(host)) throw new Error(`cannot read the first host of Slurm's node list '${list}'; set MASTER_ADDR`);
  return host;
}

function torchrun(env: Env): Rendezvous | null {
  const source = 'torchrun environment';
  const worldSize = integer(env, 'WORLD_SIZE', source, 1);
  const rank = integer(env, 'RANK', source, 0);
  if (rank >= worldSize) throw new Error(`RANK=${rank} is not below WORLD_SIZE=${worldSize}`);
  if (worldSize === 1) return null;
  const masterAddr = env.MASTER_ADDR;
  if (!masterAddr) throw new Error(`MASTER_ADDR is not set (${source}): it names the host of rank 0`);
  const localWorldSize = env.LOCAL_WORLD_SIZE ? integer(env, 'LOCAL_WORLD_SIZE', source, 1) : worldSize;
  const localRank = env.LOCAL_RANK ? integer(env, 'LOCAL_RANK', source, 0) : rank % localWorldSize;
  return { masterAddr, masterPort: port(env, 'MASTER_PORT', source), rank, worldSize, localRank, localWorldSize, source: 'torchrun' };
}

// Only inside srun: SLURM_STEP_NUM_TASKS is a job step's; an sbatch script (one process) has
// SLURM_NTASKS and SLURM_PROCID=0 as well, and must not wait for ranks that never start.
function slurm(env: Env): Rendezvous | null {
  const source = 'Slurm environment (srun)';
  const worldSize = integer(env, 'SLURM_STEP_NUM_TASKS', source, 1);
  if (worldSize === 1) return null;
  const rank = integer(env, 'SLURM_PROCID', source, 0);
  const localRank = integer(env, 'SLURM_LOCALID', source, 0);
  const perNode = expandTasksPerNode(env.SLURM_STEP_TASKS_PER_NODE ?? env.SLURM_TASKS_PER_NODE ?? String(worldSize));
  const node = env.SLURM_NODEID ? integer(env, 'SLURM_NODEID', source, 0) : 0;
  const nodes = env.SLURM_STEP_NODELIST ?? env.SLURM_JOB_NODELIST ?? env.SLURM_NODELIST;
  const masterAddr = env.MASTER_ADDR || (nodes ? firstHost(nodes) : '');
  if (!masterAddr) throw new Error(`neither MASTER_ADDR nor SLURM_STEP_NODELIST is set (${source})`);
  const masterPort = env.MASTER_PORT
    ? port(env, 'MASTER_PORT', source)
    : SLURM_PORT_BASE + (integer(env, 'SLURM_JOB_ID', source, 0) % SLURM_PORT_SPAN);
  return { masterAddr, masterPort, rank, worldSize, localRank, localWorldSize: perNode[node] ?? perNode[0] ?? 1, source: 'slurm' };
}

/**
 * This process's place in a job, or null when it runs alone (no launcher's variables, or a world
 * of one). torchrun's variables win over Slurm's (torchrun started inside an srun step).
 */
export function rendezvousFromEnv(env: Env = process.env): Rendezvous | null {
  if (env.WORLD_SIZE !== undefined || env.RANK !== undefined) return torchrun(env);
  if (env.SLURM_STEP_NUM_TASKS !== undefined && env.SLURM_PROCID !== undefined) return slurm(env);
  return null;
}

/**
 * In a job, libtorch's c10d logs its own view of each failure (socket timeouts, closed peers) that
 * wmnn reports as one line; keep those logs off unless GLOG_minloglevel asks for them. Takes effect
 * only before the addon (and with it libtorch's glog) is loaded.
 */
export function quietLibtorchLogs(env: Record<string, string | undefined> = process.env): void {
  const GLOG_FATAL_ONLY = '3';
  let inJob = false;
  try {
    inJob = rendezvousFromEnv(env) !== null;
  } catch {
    inJob = true; // joining will fail with its own line; keep it the only one
  }
  if (inJob && env.GLOG_minloglevel === undefined) env.GLOG_minloglevel = GLOG_FATAL_ONLY;
}

/** True unless this process is a rank other than 0 (the one that writes files and prints). */
export function isPrimary(env: Env = process.env): boolean {
  try {
    return (rendezvousFromEnv(env)?.rank ?? 0) === 0;
  } catch {
    return true; // a broken environment is reported when the run joins; until then, speak
  }
}

/**
 * Intra-op threads for one rank when --threads is 0: OMP_NUM_THREADS if set (torchrun sets it to
 * 1), else the machine's cores shared among the ranks on it.
 */
export function rankThreads(threads: number, r: Rendezvous, cores: number, env: Env = process.env): number {
  if (threads > 0 || env.OMP_NUM_THREADS) return threads;
  return Math.max(1, Math.floor(cores / r.localWorldSize));
}

/**
 * A rank's device: one GPU per rank (cuda:<local rank>) when the run uses CUDA; an explicit
 * cuda:N would put every rank of the machine on the same GPU, so it is refused there.
 */
export function rankDevice(device: string, r: Rendezvous, cudaDevices: number): string {
  const usesCuda = device === 'cuda' || (device === 'auto' && cudaDevices > 0);
  if (/^cuda:\d+$/.test(device)) {
    if (r.localWorldSize > 1) {
      throw new Error(
        `--device ${device} would put all ${r.localWorldSize} ranks of this machine on one GPU; use --device cuda (rank r takes cuda:<LOCAL_RANK>)`,
      );
    }
    return device;
  }
  if (!usesCuda) return device === 'auto' ? 'cpu' : device;
  if (r.localRank >= cudaDevices) {
    throw new Error(`LOCAL_RANK=${r.localRank} has no GPU of its own: ${cudaDevices} CUDA device(s) visible on this machine`);
  }
  return `cuda:${r.localRank}`;
}
