// The calibrated null: the beta-binomial tail against exact rationals (integer a, b) and Python's
// lgamma (any a, b), the moment fit on hand-made agreements, the threshold and the empirical
// p-value, and calibration files that are refused with the file's name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lnBinomialTail } from '../../src/watermark/binomial.js';
import {
  calibratedDecision,
  calibratedThreshold,
  empiricalPValue,
  fitNull,
  lnBetaBinomialTail,
  nullPValue,
} from '../../src/watermark/calibration.js';
import { readCalibration } from '../../src/watermark/calibration-file.js';
import { runPython, tempDir } from '../helpers/python.js';

const fact = (x: number): bigint => {
  let r = 1n;
  for (let i = 2; i <= x; i++) r *= BigInt(i);
  return r;
};

/** P[K >= k] for K ~ BetaBinomial(n, a, b), integer a and b, as an exact fraction's log10. */
function exactLog10(k: number, n: number, a: number, b: number): number {
  // C(n, j) B(j + a, n - j + b) / B(a, b), with B(x, y) = (x-1)! (y-1)! / (x+y-1)!
  const den = fact(a - 1) * fact(b - 1) * fact(n + a + b - 1);
  let num = 0n;
  for (let j = k; j <= n; j++) {
    num += (fact(n) / (fact(j) * fact(n - j))) * fact(j + a - 1) * fact(n - j + b - 1) * fact(a + b - 1);
  }
  // Both can be huge: scale to doubles by their decimal lengths.
  const log10Big = (x: bigint): number => {
    const s = x.toString();
    return s.length <= 17 ? Math.log10(Number(x)) : s.length - 17 + Math.log10(Number(s.slice(0, 17)));
  };
  return log10Big(num) - log10Big(den);
}

test("the beta-binomial tail equals the exact one for integer a, b, and Python's lgamma sum for any", () => {
  for (const [a, b] of [
    [1, 1],
    [1, 9],
    [2, 18],
    [5, 3],
  ] as const) {
    for (const n of [1, 7, 20]) {
      for (let k = 0; k <= n; k++) {
        const got = lnBetaBinomialTail(k, n, a, b) / Math.LN10;
        const want = exactLog10(k, n, a, b);
        assert.ok(Math.abs(got - want) < 1e-9, `a ${a} b ${b} n ${n} k ${k}: ${got} vs ${want}`);
      }
    }
  }
  const cases = [
    [3, 50, 0.37, 2.9],
    [50, 50, 0.37, 2.9],
    [12, 100, 4.2, 37.8],
    [90, 100, 0.05, 0.45],
  ] as const;
  const py = runPython([
    '-c',
    `
import math, json
def lbeta(x, y): return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
out = []
for k, n, a, b in ${JSON.stringify(cases)}:
    terms = [math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + lbeta(j + a, n - j + b) - lbeta(a, b) for j in range(k, n + 1)]
    m = max(terms)
    out.append(m + math.log(sum(math.exp(t - m) for t in terms)))
print(json.dumps(out))
`,
  ]);
  const want = JSON.parse(py) as number[];
  for (const [i, [k, n, a, b]] of cases.entries()) {
    const got = lnBetaBinomialTail(k, n, a, b);
    assert.ok(Math.abs(got - want[i]!) < 1e-9 * Math.max(1, Math.abs(want[i]!)), `${[k, n, a, b]}: ${got} vs ${want[i]}`);
  }
  // A very concentrated beta is the binomial of its mean.
  assert.ok(Math.abs(lnBetaBinomialTail(8, 20, 1e7, 9e7) - lnBinomialTail(8, 20, 0.1)) < 1e-5);
});

test('the null fit: method of moments, chance floor, no overdispersion when the counts do not spread', () => {
  const same = fitNull(
    [
      { k: 3, n: 20 },
      { k: 3, n: 20 },
      { k: 3, n: 20 },
    ],
    10,
  );
  assert.equal(same.overdispersion, 0);
  assert.equal(same.beta, null);
  assert.equal(same.mean, 0.15);
  assert.equal(same.maxAgreement, 3);
  const belowChance = fitNull(
    [
      { k: 0, n: 20 },
      { k: 1, n: 20 },
    ],
    10,
  );
  assert.equal(belowChance.measuredMean, 0.025);
  assert.equal(belowChance.mean, 0.1, 'never more lenient than the binomial null');
  // Spread wider than a binomial's: k = 1, 3, 6, 2 of 20; mean 3/20, sample variance 14/3.
  const wide = fitNull(
    [1, 3, 6, 2].map((k) => ({ k, n: 20 })),
    10,
  );
  const rho = (14 / 3 / (20 * 0.15 * 0.85) - 1) / 19;
  assert.ok(Math.abs(wide.overdispersion - rho) < 1e-12);
  assert.ok(Math.abs(wide.beta!.a / (wide.beta!.a + wide.beta!.b) - 0.15) < 1e-12);
  assert.ok(Math.abs(1 / (wide.beta!.a + wide.beta!.b + 1) - rho) < 1e-12);
  // The wider null needs more agreements than the binomial of the same mean, and more than any unmarked model.
  const tWide = calibratedThreshold(wide, 1e-3);
  const tSame = calibratedThreshold(
    fitNull(
      [
        { k: 3, n: 20 },
        { k: 3, n: 20 },
      ],
      10,
    ),
    1e-3,
  );
  assert.ok(tWide > tSame && tWide <= 20, `${tWide} vs ${tSame}`);
  // Extreme spread: no agreement of 20 is enough.
  assert.equal(
    calibratedThreshold(
      fitNull(
        [0, 2, 10, 0].map((k) => ({ k, n: 20 })),
        10,
      ),
      1e-3,
    ),
    21,
  );
  assert.ok(nullPValue(tWide, wide).log10 <= -3 && nullPValue(tWide - 1, wide).log10 > -3);
  assert.throws(() => fitNull([{ k: 1, n: 20 }], 10), /at least 2 unmarked models/);
  assert.throws(
    () =>
      fitNull(
        [
          { k: 1, n: 20 },
          { k: 1, n: 10 },
        ],
        10,
      ),
    /same trigger set/,
  );
});

test('the empirical p-value ranks k among the unmarked models; the decision is k >= threshold', () => {
  assert.equal(empiricalPValue(5, [0, 2, 5, 7]), 3 / 5);
  assert.equal(empiricalPValue(8, [0, 2, 5, 7]), 1 / 5);
  const fit = fitNull(
    [0, 2, 5, 7].map((k) => ({ k, n: 20 })),
    10,
  );
  const t = calibratedThreshold(fit, 1e-2);
  assert.equal(calibratedDecision(t, fit, [0, 2, 5, 7], 1e-2).shown, true);
  assert.equal(calibratedDecision(t - 1, fit, [0, 2, 5, 7], 1e-2).shown, false);
  // Too few images for this alpha: no agreement is enough.
  assert.equal(
    calibratedThreshold(
      fitNull(
        [
          { k: 1, n: 3 },
          { k: 2, n: 3 },
        ],
        10,
      ),
      1e-6,
    ),
    4,
  );
});

test('calibration files: a bad one is refused naming the file', () => {
  const { dir, cleanup } = tempDir('calibration');
  try {
    const path = join(dir, 'calibration.json');
    const good = {
      format: 'wmnn-calibration',
      version: 1,
      triggerSet: { sha256: 'ab', images: 4 },
      classes: 10,
      models: [{ agreement: { k: 1, n: 4 } }, { agreement: { k: 0, n: 4 } }],
    };
    writeFileSync(path, JSON.stringify(good));
    const c = readCalibration(path);
    assert.deepEqual(c.agreements, [1, 0]);
    assert.equal(c.fit.models, 2);
    const bad: [unknown, RegExp][] = [
      [{ ...good, format: 'x' }, /not a wmnn calibration/],
      [{ ...good, models: [{ agreement: { k: 5, n: 4 } }, { agreement: { k: 0, n: 4 } }] }, /models\[0\]\.agreement must be/],
      [{ ...good, models: [{ agreement: { k: 1, n: 4 } }] }, /at least 2 unmarked models/],
      [{ ...good, classes: 1 }, /"classes" must be at least 2/],
    ];
    for (const [obj, message] of bad) {
      writeFileSync(path, JSON.stringify(obj));
      assert.throws(
        () => readCalibration(path),
        (e: Error) => e.message.startsWith(path) && message.test(e.message),
      );
    }
  } finally {
    cleanup();
  }
});
