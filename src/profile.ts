// Where a run's wall time goes, by phase, for the cold-start profile of `npm run bench`
// (docs/performance.md). With WMNN_PROFILE=FILE in the environment the CLI writes the phases
// there as JSON when it ends; without it, timing a phase costs two clock reads.
import { writeFileSync } from 'node:fs';

/** The variable that asks for the profile, and names the file it goes to. */
export const PROFILE_ENV = 'WMNN_PROFILE';

/** Phase names, in the order a cold predict or verify meets them. */
export const PHASES = {
  start: 'Node and the JavaScript modules',
  engineLoad: 'libtorch and the addon loaded',
  checkpointRead: 'checkpoint read',
  triggerDecode: 'trigger images decoded',
  modelBuild: 'model built and weights copied in',
  forward: 'forward passes',
} as const;
export type Phase = (typeof PHASES)[keyof typeof PHASES];

const spent = new Map<Phase, number>();
/** Time spent in phases nested inside the synchronous phase now running, per level. */
const nested: number[] = [];
/** Time spent in outermost synchronous phases so far: an asynchronous phase leaves out those that ran during it. */
let syncMs = 0;

function add(phase: Phase, ms: number): void {
  spent.set(phase, (spent.get(phase) ?? 0) + ms);
}

/**
 * Runs `f`, adding its wall time to `phase` (a phase may repeat: verify over many models sums
 * them). A phase timed inside another (the engine addon loaded as the model is built) counts only once.
 */
export function timed<T>(phase: Phase, f: () => T): T {
  const t0 = performance.now();
  nested.push(0);
  try {
    return f();
  } finally {
    const ms = performance.now() - t0;
    add(phase, ms - (nested.pop() as number));
    if (nested.length > 0) nested[nested.length - 1] = (nested.at(-1) as number) + ms;
    else syncMs += ms;
  }
}

/**
 * An asynchronous phase: its wall time less the synchronous phases the main thread ran meanwhile
 * (the next model read while one is scored), so that each
 * moment of the main thread counts once.
 */
export async function timedAsync<T>(phase: Phase, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const sync0 = syncMs;
  try {
    return await f();
  } finally {
    add(phase, performance.now() - t0 - (syncMs - sync0));
  }
}

export interface Profile {
  /** Milliseconds from the process's start to the end of the command. */
  totalMs: number;
  phases: { phase: Phase | 'other'; ms: number }[];
}

/** A phase's milliseconds in a profile (0 when it did not occur). */
export const phaseMs = (p: Profile, phase: Profile['phases'][number]['phase']): number => p.phases.find((x) => x.phase === phase)?.ms ?? 0;

/**
 * The phases so far. `startMs` is when the command's code began (performance.now() counts from
 * the process's start, so everything before it is Node's own start and the module loading).
 */
export function profile(startMs: number): Profile {
  const totalMs = performance.now();
  // The command's own modules are loaded after startMs (only the command run is loaded): the same phase.
  const phases: Profile['phases'] = [{ phase: PHASES.start, ms: startMs + (spent.get(PHASES.start) ?? 0) }];
  for (const [phase, ms] of spent) if (phase !== PHASES.start) phases.push({ phase, ms });
  const counted = phases.reduce((a, p) => a + p.ms, 0);
  phases.push({ phase: 'other', ms: Math.max(0, totalMs - counted) });
  return { totalMs, phases };
}

/** Writes the profile where WMNN_PROFILE says, if it says anywhere. */
export function writeProfileIfAsked(startMs: number): void {
  const file = process.env[PROFILE_ENV];
  if (file) writeFileSync(file, `${JSON.stringify(profile(startMs))}\n`);
}
