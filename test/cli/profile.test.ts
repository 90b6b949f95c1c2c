// The cold-start profile (src/profile.ts): every moment of the main thread counts in one phase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PHASES, phaseMs, profile, timed, timedAsync } from '../../src/profile.js';

/** Keeps the main thread busy for `ms`, as a synchronous phase does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

const msOf = (phase: (typeof PHASES)[keyof typeof PHASES]): number => phaseMs(profile(0), phase);

test('a phase inside another counts once; an asynchronous phase leaves out the synchronous ones run meanwhile', async () => {
  const t0 = performance.now();
  timed(PHASES.checkpointRead, () => {
    busy(30);
    timed(PHASES.engineLoad, () => busy(40)); // the addon loaded from inside a read
  });
  await timedAsync(PHASES.triggerDecode, async () => {
    await new Promise((r) => setTimeout(r, 30)); // waiting on the pool
    timed(PHASES.engineLoad, () => busy(40)); // a synchronous phase while the decodes wait
    await new Promise((r) => setTimeout(r, 30));
  });
  const wall = performance.now() - t0;
  const read = msOf(PHASES.checkpointRead);
  const load = msOf(PHASES.engineLoad);
  const decode = msOf(PHASES.triggerDecode);
  assert.ok(read >= 30 && read < 40 + 20, `read ${read}`);
  assert.ok(load >= 80 && load < 80 + 20, `engine load ${load}`);
  assert.ok(decode >= 60 && decode < 60 + 30, `decode ${decode}`);
  // The three phases cover the wall time once, not more.
  assert.ok(Math.abs(read + load + decode - wall) < 5, `phases ${read + load + decode} against wall ${wall}`);
});
