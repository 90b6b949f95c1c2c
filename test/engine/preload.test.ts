// The engine preload (native/binding: preloadBinding): the addon is dlopen'ed on a native thread,
// then loaded by Node on the main thread, and must work here as if only this thread had loaded
// it -- also when a worker's environment initialised the addon last and has ended since.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { bindingStillLoading, loadBinding, preloadBinding } from '../../src/native/binding.js';
import { Model } from '../../src/native/engine.js';
import { ProcessGroup } from '../../src/native/group.js';

const ADDON = fileURLToPath(new URL('../../build/Release/wmnn.node', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

test('preloaded on a thread, then loaded here: models and process groups work here', async () => {
  preloadBinding();
  assert.equal(bindingStillLoading(), true);
  loadBinding(); // waits for the thread's load, or finds it done
  assert.equal(bindingStillLoading(), false);

  // Another environment initialises the addon after this one did, then ends.
  const worker = new Worker(`require(${JSON.stringify(ADDON)})`, { eval: true });
  const [code] = (await once(worker, 'exit')) as [number];
  assert.equal(code, 0);

  const model = new Model({ numClasses: 10, device: 'cpu', threads: 1 });
  assert.throws(() => model.joinGroup({ raw: {} } as unknown as ProcessGroup), /joinGroup needs a ProcessGroup/);
  const group = new ProcessGroup({
    masterAddr: '127.0.0.1',
    masterPort: await freePort(),
    rank: 0,
    worldSize: 1,
    timeoutMs: 10_000,
    fingerprint: 'preload-test',
  });
  model.joinGroup(group);
  assert.deepEqual(model.membership, { rank: 0, worldSize: 1 });
  model.release();
});

test('a process that exits while the preload is still loading libtorch exits cleanly, with its code', () => {
  const binding = JSON.stringify(new URL('../../src/native/binding.ts', import.meta.url).href);
  for (const exit of ['process.exit(3)', 'process.exitCode = 3']) {
    const script = `const b = await import(${binding}); b.preloadBinding(); if (!b.bindingStillLoading()) throw new Error('loaded at once'); ${exit};`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.signal, null, `${exit}: ended by ${r.signal}; ${r.stderr}`);
    assert.equal(r.status, 3, `${exit}: ${r.stderr}`);
    assert.equal(r.stderr, '');
  }
});
