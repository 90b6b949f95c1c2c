// The null distribution of trigger agreement measured on models that were never marked, and the
// decision it gives beside the binomial one. verify's binomial null (each label matched with
// chance 1/classes, independently) is exact for a model unrelated to the labels, but models that
// share biases -- the same favourite class for abstract images, say -- agree with one fixed label
// draw more often, and from model to model their counts spread wider than a binomial's. Measuring
// unmarked models' agreements and fitting a beta-binomial to them (its mean and overdispersion by
// the method of moments) keeps both effects; the mark is shown when the fitted tail is at most
// alpha and no unmarked model agreed as often.
import { lnBinomialTail, probabilityFromLn, significant, type Probability } from './binomial.js';

/** One unmarked model's agreement with the trigger labels. */
export interface NullAgreement {
  k: number;
  n: number;
}

/** The fitted null: K ~ BetaBinomial(n, a, b), i.e. Binomial(n, q) with q ~ Beta(a, b); rho 0 is Binomial(n, mean). */
export interface NullFit {
  /** Trigger images per model. */
  n: number;
  /** Unmarked models measured. */
  models: number;
  /** Their mean agreement per image, before the chance floor. */
  measuredMean: number;
  /** The null's mean agreement per image: the measured mean, but never below chance (1/classes). */
  mean: number;
  /** Intra-class correlation rho in [0, 1): Var K = n q (1 - q) (1 + (n - 1) rho). */
  overdispersion: number;
  /** Beta parameters (null when rho is 0: the null is binomial). */
  beta: { a: number; b: number } | null;
  /** The largest agreement any unmarked model reached. */
  maxAgreement: number;
}

/** Fewest unmarked models a fit needs: two give a variance. */
export const MIN_NULL_MODELS = 2;
/** Keeps the beta proper when the spread is extreme (counts all at 0 and n). */
const MAX_OVERDISPERSION = 1 - 1e-9;

/** Fits the null to unmarked models' agreements on one trigger set (same n for all). */
export function fitNull(agreements: readonly NullAgreement[], classes: number): NullFit {
  if (agreements.length < MIN_NULL_MODELS)
    throw new RangeError(`a null fit needs at least ${MIN_NULL_MODELS} unmarked models, got ${agreements.length}`);
  const n = agreements[0]!.n;
  if (!(Number.isInteger(n) && n > 0) || agreements.some((x) => x.n !== n || !Number.isInteger(x.k) || x.k < 0 || x.k > n)) {
    throw new RangeError('every unmarked model must be scored on the same trigger set (0 <= k <= n, one n)');
  }
  if (!(Number.isInteger(classes) && classes >= 2)) throw new RangeError(`classes must be an integer >= 2, got ${classes}`);
  const m = agreements.length;
  const ks = agreements.map((x) => x.k);
  const meanK = ks.reduce((s, k) => s + k, 0) / m;
  const variance = ks.reduce((s, k) => s + (k - meanK) ** 2, 0) / (m - 1);
  const measuredMean = meanK / n;
  // Below chance is luck of this label draw, not a property to rely on: never more lenient than the binomial.
  const mean = Math.max(measuredMean, 1 / classes);
  const binomialVariance = n * mean * (1 - mean);
  const rho = n > 1 && mean < 1 ? Math.min(MAX_OVERDISPERSION, Math.max(0, (variance / binomialVariance - 1) / (n - 1))) : 0;
  const beta = rho > 0 ? { a: mean * (1 / rho - 1), b: (1 - mean) * (1 / rho - 1) } : null;
  return { n, models: m, measuredMean, mean, overdispersion: rho, beta, maxAgreement: Math.max(...ks) };
}

/** ln P[K >= k] for K ~ BetaBinomial(n, a, b), by log-sum-exp over the terms k..n (no lgamma needed). */
export function lnBetaBinomialTail(k: number, n: number, a: number, b: number): number {
  if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(k) && k >= 0 && k <= n))
    throw new RangeError(`need integers 0 <= k <= n, got k ${k}, n ${n}`);
  if (!(a > 0 && b > 0 && Number.isFinite(a) && Number.isFinite(b)))
    throw new RangeError(`beta parameters must be positive, got ${a}, ${b}`);
  if (k === 0) return 0;
  // P[K = 0] = B(a, n + b) / B(a, b) = prod_{i<n} (b + i) / (a + b + i), and
  // P[K = j + 1] / P[K = j] = (n - j) / (j + 1) * (a + j) / (b + n - j - 1).
  let t = 0;
  for (let i = 0; i < n; i++) t += Math.log(b + i) - Math.log(a + b + i);
  const terms: number[] = [];
  for (let j = 0; j <= n; j++) {
    if (j >= k) terms.push(t);
    if (j < n) t += Math.log(n - j) - Math.log(j + 1) + Math.log(a + j) - Math.log(b + n - j - 1);
  }
  const max = Math.max(...terms);
  const sum = terms.reduce((s, x) => s + Math.exp(x - max), 0);
  return Math.min(0, max + Math.log(sum));
}

/** P[K >= k] under the fitted null. */
export function nullPValue(k: number, fit: NullFit): Probability {
  if (k > fit.n) throw new RangeError(`k (${k}) cannot exceed the trigger set's ${fit.n} images`);
  if (fit.beta) return probabilityFromLn(lnBetaBinomialTail(k, fit.n, fit.beta.a, fit.beta.b));
  if (fit.mean >= 1) return probabilityFromLn(0); // every unmarked model agreed on every image
  return probabilityFromLn(lnBinomialTail(k, fit.n, fit.mean));
}

/**
 * The rank p-value of k among the unmarked models' agreements, (1 + #{k_i >= k}) / (m + 1): what the
 * measurements alone support, never below 1/(m + 1).
 */
export function empiricalPValue(k: number, agreements: readonly number[]): number {
  return (1 + agreements.filter((x) => x >= k).length) / (agreements.length + 1);
}

/** The fewest agreements the calibrated decision accepts (n + 1 if none): fitted tail <= alpha, above every unmarked model. */
export function calibratedThreshold(fit: NullFit, alpha: number): number {
  let lo = fit.maxAgreement + 1;
  let hi = fit.n + 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (significant(nullPValue(mid, fit), alpha)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface CalibratedDecision {
  pValue: Probability;
  empiricalPValue: number;
  threshold: number;
  shown: boolean;
}

export function calibratedDecision(k: number, fit: NullFit, agreements: readonly number[], alpha: number): CalibratedDecision {
  const threshold = calibratedThreshold(fit, alpha);
  return { pValue: nullPValue(k, fit), empiricalPValue: empiricalPValue(k, agreements), threshold, shown: k >= threshold };
}

/** The fitted null for people: `Beta-binomial(100, mean 0.132, rho 0.041)` or `Binomial(100, 0.1)`. */
export function describeFit(fit: NullFit): string {
  const mean = fit.mean.toPrecision(3);
  return fit.beta ? `Beta-binomial(${fit.n}, mean ${mean}, rho ${fit.overdispersion.toPrecision(3)})` : `Binomial(${fit.n}, ${mean})`;
}
