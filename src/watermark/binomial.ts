// The binomial tail P[X >= k], X ~ Bin(n, q): the chance that a model unrelated to the mark agrees
// with k or more of n random trigger labels. Computed in log space, so that a perfect agreement on
// a large trigger set (1e-100, 1e-1000) neither underflows to 0 nor loses its digits.

/** A probability, as far as a JS number can hold it and beyond. */
export interface Probability {
  /** log10 of the probability, always finite (the decision is taken from it). */
  log10: number;
  /** The probability as a number, or null below the smallest normal double (about 2.2e-308). */
  value: number | null;
  /** For people: `0.0123`, `4.56e-8`, `1.00e-100`, `3.16e-1234`. */
  text: string;
}

const LN10 = Math.LN10;
/** log10 of the smallest normal double: below it a number loses precision, then becomes 0. */
const LOG10_MIN_NORMAL = Math.log10(2.2250738585072014e-308);

function requireInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

/** ln C(n, k) as an exact sum of logs (no lgamma in JS; n is a trigger-set size, so O(k) is cheap). */
function lnChoose(n: number, k: number): number {
  const m = Math.min(k, n - k);
  let s = 0;
  for (let j = 1; j <= m; j++) s += Math.log(n - m + j) - Math.log(j);
  return s;
}

/** ln P[X >= k] for X ~ Bin(n, q), by log-sum-exp over the terms k..n. */
export function lnBinomialTail(k: number, n: number, q: number): number {
  requireInt('n', n, 0);
  requireInt('k', k, 0);
  if (!(q > 0 && q < 1)) throw new RangeError(`the chance per trial must be in (0, 1), got ${q}`);
  if (k > n) throw new RangeError(`k (${k}) cannot exceed n (${n})`);
  if (k === 0) return 0;
  const lnQ = Math.log(q);
  const lnNotQ = Math.log1p(-q);
  const terms = new Float64Array(n - k + 1);
  let t = lnChoose(n, k) + k * lnQ + (n - k) * lnNotQ;
  let max = t;
  for (let i = k; i <= n; i++) {
    terms[i - k] = t;
    if (t > max) max = t;
    // P[X = i+1] / P[X = i] = (n - i) / (i + 1) * q / (1 - q)
    if (i < n) t += Math.log(n - i) - Math.log(i + 1) + lnQ - lnNotQ;
  }
  let sum = 0;
  for (const term of terms) sum += Math.exp(term - max);
  return Math.min(0, max + Math.log(sum)); // rounding must not make a probability exceed 1
}

/** `log10 p` as `m.mme-E`, or as a plain number when p >= 0.001. */
export function formatLog10(log10: number): string {
  if (log10 >= -3) return Number(10 ** log10).toPrecision(3);
  let e = Math.floor(log10);
  let m = (10 ** (log10 - e)).toFixed(2);
  if (m === '10.00') {
    m = '1.00';
    e += 1;
  }
  return `${m}e${e}`;
}

/** A probability given as a number (alpha), written like p-values: `1.00e-6`. */
export function formatProbability(x: number): string {
  return formatLog10(Math.log10(x));
}

export function probabilityFromLn(ln: number): Probability {
  const log10 = ln / LN10;
  return { log10, value: log10 >= LOG10_MIN_NORMAL ? Math.exp(ln) : null, text: formatLog10(log10) };
}

/** P[X >= k], X ~ Bin(n, 1/classes): the p-value of k agreements out of n under the null. */
export function agreementPValue(k: number, n: number, classes: number): Probability {
  requireInt('classes', classes, 2);
  return probabilityFromLn(lnBinomialTail(k, n, 1 / classes));
}

/** Whether p <= alpha, decided in log space (p may be far below the smallest double). */
export function significant(p: Probability, alpha: number): boolean {
  return p.log10 <= Math.log10(alpha);
}

/** The fewest agreements out of n that show the mark at level alpha (n + 1 if none does). */
export function agreementsNeeded(n: number, classes: number, alpha: number): number {
  // The tail shrinks as k grows, so a binary search finds the first k with p <= alpha.
  let lo = 0;
  let hi = n + 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (mid <= n && significant(agreementPValue(mid, n, classes), alpha)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
