// The engine preload (native/binding: preloadBinding): the addon is loaded on a worker thread,
// then on the main thread, and must work here as if only this thread had loaded it -- also when
// the worker's environment initialised the addon last and has ended since.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('preloaded on a worker, then loaded here: models and process groups work here', async () => {
  preloadBinding();
  assert.equal(bindingStillLoading(), true);
  loadBinding(); // waits for the worker's load, or finds it done
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
