// The job's environment as torchrun and srun set it, a rank's device and threads, how --nproc
// decides to launch, and how a global batch is split over ranks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandTasksPerNode, firstHost, isPrimary, rankDevice, rankThreads, rendezvousFromEnv } from '../../src/distributed/env.js';
import { LAUNCHER_PID, parseNproc, workersToStart } from '../../src/distributed/launcher.js';
import { shardOf } from '../../src/distributed/shard.js';
import { torchrunEnv } from './ranks.js';

test('torchrun variables give the rank, the world and the rendezvous; a world of one is no job', () => {
  assert.deepEqual(rendezvousFromEnv({ ...torchrunEnv(1, 4, 29501), MASTER_ADDR: 'node7', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2' }), {
    masterAddr: 'node7',
    masterPort: 29501,
    rank: 1,
    worldSize: 4,
    localRank: 1,
    localWorldSize: 2,
    source: 'torchrun',
  });
  assert.equal(rendezvousFromEnv({}), null);
  assert.equal(rendezvousFromEnv({ ...torchrunEnv(0, 1, 29500) }), null);
  const noLocal = rendezvousFromEnv({ MASTER_ADDR: 'a', MASTER_PORT: '1', WORLD_SIZE: '4', RANK: '3' });
  assert.equal(noLocal?.localRank, 3);
  assert.equal(noLocal?.localWorldSize, 4);
});

test('a broken torchrun environment is one line naming the variable', () => {
  assert.throws(() => rendezvousFromEnv({ ...torchrunEnv(2, 2, 29500) }), /^Error: RANK=2 is not below WORLD_SIZE=2$/);
  assert.throws(() => rendezvousFromEnv({ ...torchrunEnv(0, 2, 29500), MASTER_ADDR: '' }), /MASTER_ADDR is not set/);
  assert.throws(() => rendezvousFromEnv({ ...torchrunEnv(0, 2, 29500), MASTER_PORT: '70000' }), /MASTER_PORT=70000 is not a TCP port/);
  assert.throws(() => rendezvousFromEnv({ ...torchrunEnv(0, 2, 29500), RANK: 'one' }), /RANK=one is not an integer/);
  assert.throws(() => rendezvousFromEnv({ RANK: '0' }), /WORLD_SIZE is not set/);
});

test('srun steps map onto the same fields; an sbatch script (no step) is no job', () => {
  const step = {
    SLURM_STEP_NUM_TASKS: '8',
    SLURM_PROCID: '5',
    SLURM_LOCALID: '1',
    SLURM_NODEID: '1',
    SLURM_JOB_ID: '123456',
    SLURM_STEP_TASKS_PER_NODE: '4(x2)',
    SLURM_STEP_NODELIST: 'gpu[07-08]',
  };
  assert.deepEqual(rendezvousFromEnv(step), {
    masterAddr: 'gpu07',
    masterPort: 15000 + (123456 % 20000),
    rank: 5,
    worldSize: 8,
    localRank: 1,
    localWorldSize: 4,
    source: 'slurm',
  });
  assert.equal(rendezvousFromEnv({ ...step, MASTER_ADDR: 'head', MASTER_PORT: '29400' })?.masterAddr, 'head');
  assert.equal(rendezvousFromEnv({ ...step, MASTER_PORT: '29400' })?.masterPort, 29400);
  // The batch step of an sbatch script has SLURM_NTASKS and SLURM_PROCID=0 but runs one process.
  assert.equal(rendezvousFromEnv({ SLURM_NTASKS: '8', SLURM_PROCID: '0', SLURM_JOB_ID: '1' }), null);
  // torchrun inside an srun step: torchrun's variables decide.
  assert.equal(rendezvousFromEnv({ ...step, ...torchrunEnv(0, 2, 29500) })?.source, 'torchrun');
  assert.deepEqual(expandTasksPerNode('2(x3),1'), [2, 2, 2, 1]);
  assert.equal(firstHost('node[001-004,9],login1'), 'node001');
  assert.equal(firstHost('rack[1-2]-n[3-4]'), 'rack1-n3');
  assert.equal(firstHost('a,b'), 'a');
});

test('only rank 0 is primary', () => {
  assert.equal(isPrimary({}), true);
  assert.equal(isPrimary({ ...torchrunEnv(0, 2, 1) }), true);
  assert.equal(isPrimary({ ...torchrunEnv(1, 2, 1) }), false);
});

test('a rank shares the cores of its machine, unless told otherwise; a GPU rank takes cuda:<local rank>', () => {
  const r = rendezvousFromEnv({ ...torchrunEnv(1, 2, 1) })!;
  assert.equal(rankThreads(0, r, 16, {}), 8);
  assert.equal(rankThreads(0, { ...r, localWorldSize: 32 }, 16, {}), 1);
  assert.equal(rankThreads(3, r, 16, {}), 3);
  assert.equal(rankThreads(0, r, 16, { OMP_NUM_THREADS: '1' }), 0, 'the engine reads OMP_NUM_THREADS itself');
  assert.equal(rankDevice('auto', r, 0), 'cpu');
  assert.equal(rankDevice('cpu', r, 8), 'cpu');
  assert.equal(rankDevice('auto', r, 8), 'cuda:1');
  assert.equal(rankDevice('cuda', r, 8), 'cuda:1');
  assert.throws(() => rankDevice('cuda', r, 1), /LOCAL_RANK=1 has no GPU of its own: 1 CUDA device/);
  assert.throws(() => rankDevice('cuda:0', r, 8), /would put all 2 ranks of this machine on one GPU/);
  assert.equal(rankDevice('cuda:3', { ...r, localWorldSize: 1 }, 8), 'cuda:3');
});

test('--nproc: a count or auto; a launched rank never launches again', () => {
  assert.equal(parseNproc('auto'), 'auto');
  assert.equal(parseNproc('4'), 4);
  assert.throws(() => parseNproc('0'), /--nproc must be a positive integer or auto, got '0'/);
  assert.throws(() => parseNproc('two'), /--nproc must be a positive integer or auto/);
  const noGpu = () => 0;
  assert.equal(workersToStart(1, 'auto', noGpu, {}), 0);
  assert.equal(workersToStart(3, 'cpu', noGpu, {}), 3);
  assert.equal(workersToStart('auto', 'auto', noGpu, {}), 0);
  assert.equal(
    workersToStart('auto', 'auto', () => 4, {}),
    4,
  );
  assert.equal(
    workersToStart('auto', 'cpu', () => 4, {}),
    0,
  );
  assert.equal(workersToStart(2, 'cpu', noGpu, { ...torchrunEnv(1, 2, 1), [LAUNCHER_PID]: '1' }), 0);
  assert.throws(
    () => workersToStart(2, 'cpu', noGpu, { ...torchrunEnv(1, 2, 1) }),
    /already a rank of a launched job \(WORLD_SIZE=2\); leave --nproc out/,
  );
});

test('the shards of a batch are disjoint, contiguous, cover it, and differ in size by at most one', () => {
  for (const world of [1, 2, 3, 8]) {
    for (const count of [0, 1, 2, 7, 102]) {
      const parts = Array.from({ length: world }, (_, rank) => shardOf({ start: 40, count }, { rank, worldSize: world }));
      let next = 40;
      for (const p of parts) {
        assert.equal(p.start, next);
        next += p.count;
      }
      assert.equal(next, 40 + count);
      const sizes = parts.map((p) => p.count);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${count} over ${world}: ${sizes}`);
    }
  }
});
