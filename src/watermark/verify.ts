// Verify: open the commitments, score the model on the trigger set, and decide with the exact
// binomial tail whether it carries the mark. Model loading and evaluation are predict's.
import { resolve } from 'node:path';
import { readCheckpoint } from '../checkpoint/read.js';
import type { Normalization } from '../data/normalization.js';
import { loadTriggerSet } from '../data/trigger-set.js';
import type { Model } from '../native/engine.js';
import { evaluate } from '../training/loop.js';
import { classesOf, loadInto } from '../training/persist.js';
import { startProgress, type ProgressMode } from '../training/progress.js';
import { agreementPValue, agreementsNeeded, formatProbability, significant } from './binomial.js';
import { TRIGGER_SET_SCHEME, triggerSetDigest } from './commitments.js';
import { openCommitments, readCommitments, readOpenings } from './key-files.js';
import { calibratedDecision, describeFit } from './calibration.js';
import type { Calibration } from './calibration-file.js';
import { calibratedDecisionText, decisionText, nullStatement, sha256File, WMNN_VERSION, type CalibratedRecord, type VerifyRecord } from './record.js';
import { triggerItems } from './trigger-items.js';

export interface VerifyOptions {
  modelPath: string;
  wmPath: string;
  labelsFile: string;
  /** The Normalize of the model's training data, which the trigger images get. */
  normalization: Normalization;
  /** Both or neither: without them nothing binds the trigger set to an earlier commitment. */
  keys?: { commitments: string; openings: string };
  alpha: number;
  /** Decide with the null measured on unmarked models (wmnn calibrate) instead of the binomial one. */
  calibration?: Calibration;
  /** A ResNet-18 for this many classes on the chosen device (the CLI's engine flags). */
  createModel: (numClasses: number) => Model;
  batchSize: number;
  say: (line: string) => void;
  progress: ProgressMode;
}

export async function verifyWatermark(opts: VerifyOptions): Promise<VerifyRecord> {
  const { say } = opts;
  if (!(opts.alpha > 0 && opts.alpha < 1)) throw new Error(`--alpha must be in (0, 1), got ${opts.alpha}`);
  const ckpt = readCheckpoint(opts.modelPath);
  const modelClasses = classesOf(ckpt);
  const commitments = opts.keys ? readCommitments(opts.keys.commitments) : undefined;
  const openings = opts.keys ? readOpenings(opts.keys.openings) : undefined;

  const set = await loadTriggerSet({ path: opts.wmPath, labelsFile: opts.labelsFile, numClasses: modelClasses, normalization: opts.normalization });
  const items = await triggerItems(opts.wmPath, set);
  if (opts.keys && commitments && openings) {
    openCommitments(items, commitments, openings, { ...opts.keys, triggerSet: opts.wmPath });
    say(`Commitments: all ${items.length} openings match ${opts.keys.commitments}`);
    if (commitments.randomness.kind === 'seeded') say(`  (a PUBLIC DEMO set from seed ${commitments.randomness.seed}: it proves nothing about ownership)`);
  } else {
    say('Commitments: none checked -- nothing shows that this trigger set was fixed before the model was seen');
  }

  const model = opts.createModel(modelClasses);
  loadInto(model, ckpt, { momentum: false });
  say(`Scoring ${opts.modelPath} on ${items.length} trigger images`);
  const r = await evaluate(model, model.upload(set), opts.batchSize, startProgress({ mode: opts.progress }));

  // The labels were drawn from the committed classes; without commitments, from the model's.
  const classes = commitments?.classes ?? modelClasses;
  const p = agreementPValue(r.correct, r.total, classes);
  const binomialShown = significant(p, opts.alpha);
  const digest = triggerSetDigest(items);
  const calibrated = opts.calibration ? calibratedRecord(opts.calibration, digest, classes, r.correct, opts.alpha) : null;
  const shown = calibrated ? calibrated.shown : binomialShown;
  return {
    format: 'wmnn-verify-record',
    version: 1,
    wmnn: WMNN_VERSION,
    time: new Date().toISOString(),
    model: { path: resolve(opts.modelPath), sha256: sha256File(opts.modelPath), classes: modelClasses },
    triggerSet: { path: resolve(opts.wmPath), labelsFile: opts.labelsFile, images: items.length, sha256: digest, digest: TRIGGER_SET_SCHEME },
    commitments: opts.keys && commitments
      ? { path: resolve(opts.keys.commitments), sha256: sha256File(opts.keys.commitments), openings: resolve(opts.keys.openings), opened: items.length, randomness: commitments.randomness }
      : null,
    agreement: { k: r.correct, n: r.total },
    nullHypothesis: { classes, chance: 1 / classes, classesFrom: commitments ? 'commitments' : 'model', statement: nullStatement(classes) },
    pValue: p.value,
    pValueText: p.text,
    log10PValue: p.log10,
    alpha: opts.alpha,
    agreementsNeeded: agreementsNeeded(r.total, classes, opts.alpha),
    shown,
    decision: calibrated ? calibratedDecisionText(calibrated, r.correct, opts.alpha) : decisionText(shown, p, opts.alpha),
    decidedBy: calibrated ? 'calibrated' : 'binomial',
    calibration: calibrated,
  };
}

/** The calibrated decision on k agreements, once the calibration is shown to be of this trigger set and label classes. */
function calibratedRecord(c: Calibration, digest: string, classes: number, k: number, alpha: number): CalibratedRecord {
  if (c.digest !== digest) throw new Error(`${c.path}: calibrated on another trigger set (digest ${c.digest.slice(0, 12)}..., this one ${digest.slice(0, 12)}...)`);
  if (c.classes !== classes) throw new Error(`${c.path}: calibrated for labels from ${c.classes} classes, but this trigger set's are from ${classes}`);
  const d = calibratedDecision(k, c.fit, c.agreements, alpha);
  return {
    path: resolve(c.path),
    sha256: sha256File(c.path),
    models: c.fit.models,
    null: describeFit(c.fit),
    mean: c.fit.mean,
    overdispersion: c.fit.overdispersion,
    maxNullAgreement: c.fit.maxAgreement,
    pValue: d.pValue.value,
    pValueText: d.pValue.text,
    log10PValue: d.pValue.log10,
    empiricalPValue: d.empiricalPValue,
    threshold: d.threshold,
    shown: d.shown,
  };
}

/** The record as lines for people. */
export function describeRecord(r: VerifyRecord): string[] {
  const { k, n } = r.agreement;
  return [
    `Agreement: ${k}/${n} trigger images classified as their committed label`,
    `Null hypothesis: ${r.nullHypothesis.statement}`,
    `p-value: P[X >= ${k}] = ${r.pValueText} (log10 p = ${r.log10PValue.toFixed(3)}), X ~ Binomial(${n}, 1/${r.nullHypothesis.classes})`,
    `At alpha = ${formatProbability(r.alpha)} the mark needs ${r.agreementsNeeded <= n ? `at least ${r.agreementsNeeded} of ${n}` : `more than ${n} trigger images (too few to ever decide)`}`,
    ...(r.calibration ? calibrationLines(r.calibration, k, n) : []),
    `Decision: ${r.decision}`,
  ];
}

function calibrationLines(c: CalibratedRecord, k: number, n: number): string[] {
  return [
    `Calibrated null: ${c.null}, measured on ${c.models} unmarked models (the most any agreed: ${c.maxNullAgreement}/${n})`,
    `Calibrated p-value: P[K >= ${k}] = ${c.pValueText}; empirical (rank among the unmarked models) ${c.empiricalPValue.toPrecision(3)}`,
    `Calibrated threshold: ${c.threshold <= n ? `at least ${c.threshold} of ${n}` : `more than ${n} (this calibration can never show the mark)`}`,
  ];
}
