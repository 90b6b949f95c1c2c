// The record verify leaves behind: enough for a third party to check the claim -- which model
// file and which trigger set (by SHA-256), the commitments opened, k of n, the null hypothesis,
// the p-value, alpha and the decision, with wmnn's version and the time.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Randomness } from './key-files.js';
import { formatProbability, type Probability } from './binomial.js';

export interface VerifyRecord {
  format: 'wmnn-verify-record';
  version: 1;
  wmnn: string;
  /** ISO 8601, UTC. */
  time: string;
  model: { path: string; sha256: string; classes: number };
  triggerSet: { path: string; labelsFile: string; images: number; sha256: string; digest: string };
  /** The commitments opened (null: none were checked, and the record says so). */
  commitments: { path: string; sha256: string; openings: string; opened: number; randomness: Randomness } | null;
  agreement: { k: number; n: number };
  nullHypothesis: { classes: number; chance: number; classesFrom: 'commitments' | 'model'; statement: string };
  /** P[X >= k], X ~ Bin(n, 1/classes); null when below the smallest double (see log10PValue). */
  pValue: number | null;
  pValueText: string;
  log10PValue: number;
  alpha: number;
  /** The fewest agreements out of n that show the mark at this alpha. */
  agreementsNeeded: number;
  shown: boolean;
  decision: string;
  /** Which null took the decision: the binomial one above, or the calibrated one (verify --calibration). */
  decidedBy: 'binomial' | 'calibrated';
  /** The calibrated null and its decision, beside the binomial one (null: no --calibration). */
  calibration: CalibratedRecord | null;
}

export interface CalibratedRecord {
  path: string;
  sha256: string;
  /** Unmarked models the null was measured on. */
  models: number;
  /** The fitted null, for people: `Beta-binomial(100, mean 0.132, rho 0.041)`. */
  null: string;
  mean: number;
  overdispersion: number;
  /** The largest agreement an unmarked model reached. */
  maxNullAgreement: number;
  /** P[K >= k] under the fitted null; null when below the smallest double. */
  pValue: number | null;
  pValueText: string;
  log10PValue: number;
  /** (1 + unmarked models with k_i >= k) / (models + 1): what the measurements alone support. */
  empiricalPValue: number;
  /** The fewest agreements the calibrated decision accepts at alpha (n + 1: none). */
  threshold: number;
  shown: boolean;
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const WMNN_VERSION = pkg.version;

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function nullStatement(classes: number): string {
  return `a model unrelated to the mark agrees with each trigger label with probability 1/${classes} (the labels were drawn uniformly from ${classes} classes, independently of any model), so its agreement count is Binomial(n, 1/${classes})`;
}

export function calibratedDecisionText(c: CalibratedRecord, k: number, alpha: number): string {
  const a = formatProbability(alpha);
  const why = `${c.null} from ${c.models} unmarked models, p = ${c.pValueText}, threshold ${c.threshold}, alpha = ${a}`;
  return c.shown
    ? `watermark shown (calibrated): ${k} >= ${c.threshold} agreements (${why})`
    : `watermark not shown (calibrated): ${k} < ${c.threshold} agreements (${why})`;
}

export function decisionText(shown: boolean, p: Probability, alpha: number): string {
  const a = formatProbability(alpha);
  return shown ? `watermark shown: p = ${p.text} <= alpha = ${a}` : `watermark not shown: p = ${p.text} > alpha = ${a}`;
}
