// mapConcurrent: the items' order kept, the limit held, and the error a one-by-one loop would give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { mapConcurrent } from '../../src/data/concurrent.js';

test('results keep the items\' order when jobs finish out of order, with at most `limit` in flight', async () => {
  const delays = [30, 5, 20, 1, 15, 2, 25, 8, 3, 12];
  let inFlight = 0;
  let most = 0;
  const results = await mapConcurrent(delays, 3, async (delay, i) => {
    most = Math.max(most, ++inFlight);
    await sleep(delay);
    inFlight--;
    return `${i}:${delay}`;
  });
  assert.deepEqual(results, delays.map((d, i) => `${i}:${d}`));
  assert.equal(most, 3);
  assert.deepEqual(await mapConcurrent([], 4, async () => 1), []);
});

test('a failure: no new job starts, and the first failing item in order is the error', async () => {
  const started: number[] = [];
  // Item 2 fails late, item 3 early: a loop would have stopped at item 2.
  const run = mapConcurrent([0, 1, 2, 3, 4, 5, 6, 7], 4, async (item) => {
    started.push(item);
    await sleep(item === 2 ? 30 : 1);
    if (item === 2 || item === 3) throw new Error(`item ${item} failed`);
    return item;
  });
  await assert.rejects(run, /^Error: item 2 failed$/);
  assert.ok(!started.includes(7), `started after the failure: ${started.join(' ')}`);
});
