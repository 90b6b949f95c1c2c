// The p-value against an exact binomial tail computed here with BigInt rationals:
// P[X >= k] = sum_{i>=k} C(n,i) (C-1)^(n-i) / C^n for X ~ Bin(n, 1/C).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agreementPValue, agreementsNeeded, formatLog10, lnBinomialTail, significant } from '../../src/watermark/binomial.js';

/** Numerator of the exact tail over the denominator C^n. */
function exactTail(k: number, n: number, classes: number): { num: bigint; den: bigint } {
  const C = BigInt(classes);
  let num = 0n;
  let choose = 1n; // C(n, i), updated as i grows
  for (let i = 0; i <= n; i++) {
    if (i >= k) num += choose * (C - 1n) ** BigInt(n - i);
    choose = (choose * BigInt(n - i)) / BigInt(i + 1);
  }
  return { num, den: C ** BigInt(n) };
}

/** log10 of a positive BigInt to about 16 significant digits. */
function log10Big(x: bigint): number {
  const s = x.toString();
  if (s.length <= 17) return Math.log10(Number(x));
  return s.length - 17 + Math.log10(Number(s.slice(0, 17)));
}

const exactLog10 = (k: number, n: number, c: number): number => {
  const { num, den } = exactTail(k, n, c);
  return log10Big(num) - log10Big(den);
};

test('every tail of small binomials equals the exact rational one', () => {
  for (const classes of [2, 3, 10, 100]) {
    for (const n of [1, 2, 5, 10, 20, 37, 60]) {
      for (let k = 0; k <= n; k++) {
        const p = agreementPValue(k, n, classes);
        const exact = exactLog10(k, n, classes);
        assert.ok(Math.abs(p.log10 - exact) < 1e-9, `k=${k} n=${n} C=${classes}: log10 ${p.log10} vs exact ${exact}`);
        assert.ok(p.value !== null && p.value > 0 && p.value <= 1, `k=${k} n=${n} C=${classes}: value ${p.value}`);
      }
    }
  }
});

test('k = n = 100 with 10 classes is exactly 1e-100: no underflow, text with its exponent', () => {
  const p = agreementPValue(100, 100, 10);
  assert.ok(Math.abs(p.log10 + 100) < 1e-12, String(p.log10));
  assert.ok(p.value !== null && Math.abs(p.value / 1e-100 - 1) < 1e-12, String(p.value));
  assert.equal(p.text, '1.00e-100');
});

test('far below the smallest double the p-value is kept as log10 and text, never as 0', () => {
  const p = agreementPValue(1000, 1000, 10);
  assert.equal(p.value, null);
  assert.ok(Math.abs(p.log10 + 1000) < 1e-9, String(p.log10));
  assert.equal(p.text, '1.00e-1000');
  const q = agreementPValue(950, 1000, 10); // exact sum of 51 terms, around 1e-900
  assert.ok(Math.abs(q.log10 - exactLog10(950, 1000, 10)) < 1e-9, `${q.log10} vs ${exactLog10(950, 1000, 10)}`);
  assert.equal(q.value, null);
  assert.ok(significant(q, 1e-6));
  const huge = agreementPValue(1_000_000, 1_000_000, 2); // 2^-1e6: no overflow anywhere
  assert.ok(Number.isFinite(huge.log10));
  assert.ok(Math.abs(huge.log10 + 1e6 * Math.log10(2)) < 1e-6, String(huge.log10));
});

test('large n near the mean: neither overflow nor a probability above 1', () => {
  const p = agreementPValue(1000, 2000, 2);
  assert.ok(Math.abs(p.log10 - exactLog10(1000, 2000, 2)) < 1e-9);
  assert.ok(p.value !== null && p.value > 0.5 && p.value < 0.52);
  assert.equal(agreementPValue(0, 5000, 10).log10, 0);
  assert.ok(lnBinomialTail(1, 5000, 0.1) <= 0);
});

test('agreementsNeeded is the first k whose exact tail is at most alpha', () => {
  for (const [n, classes] of [
    [10, 10],
    [20, 10],
    [100, 10],
    [50, 100],
    [30, 2],
  ] as const) {
    for (const alphaExp of [2, 6, 9]) {
      const needed = agreementsNeeded(n, classes, 10 ** -alphaExp);
      let exact = n + 1;
      for (let k = 0; k <= n; k++) {
        const { num, den } = exactTail(k, n, classes);
        if (num * 10n ** BigInt(alphaExp) <= den) {
          exact = k;
          break;
        }
      }
      assert.equal(needed, exact, `n=${n} C=${classes} alpha=1e-${alphaExp}`);
    }
  }
  assert.equal(agreementsNeeded(10, 10, 1e-6), 8);
  assert.equal(agreementsNeeded(3, 10, 1e-6), 4); // 1e-3 at best: never shown
});

test('p-value text', () => {
  assert.equal(formatLog10(Math.log10(0.0123)), '0.0123');
  assert.equal(formatLog10(0), '1.00');
  assert.equal(formatLog10(Math.log10(9.999e-5)), '1.00e-4');
  assert.equal(formatLog10(-1234.5), '3.16e-1235');
});

test('bad arguments are refused', () => {
  assert.throws(() => agreementPValue(3, 2, 10), /k/);
  assert.throws(() => agreementPValue(1, 2, 1), /classes/);
  assert.throws(() => agreementPValue(1.5, 2, 10), /k/);
});
