// Verify: open the commitments, score the model on the trigger set, and decide with the exact
// binomial tail whether it carries the mark. Model loading and evaluation are predict's.
// The work is split so that many models can share one trigger set: the evidence (trigger set
// decoded, commitments opened) is made once, then each model is scored against it.
import { resolve } from 'node:path';
import { readCheckpoint } from '../checkpoint/read.js';
import type { Normalization } from '../data/normalization.js';
import { loadTriggerSet, type TriggerSet } from '../data/trigger-set.js';
import type { DeviceData, Model } from '../native/engine.js';
import { PHASES, timed, timedAsync } from '../profile.js';
import { evaluate } from '../training/loop.js';
import { classesOf, loadInto } from '../training/persist.js';
import { startProgress, type ProgressMode } from '../training/progress.js';
import { agreementPValue, agreementsNeeded, formatProbability, significant } from './binomial.js';
import { TRIGGER_SET_SCHEME, triggerSetDigest, type TriggerItem } from './commitments.js';
import { openCommitments, readCommitmentsFile, readOpenings, type CommitmentsFile } from './key-files.js';
import { calibratedDecision, describeFit } from './calibration.js';
import type { Calibration } from './calibration-file.js';
import {
  calibratedDecisionText,
  decisionText,
  nullStatement,
  sha256File,
  WMNN_VERSION,
  type CalibratedRecord,
  type VerifyRecord,
} from './record.js';
import { triggerItems } from './trigger-items.js';

/** What verify reads besides the model. */
export interface EvidenceOptions {
  wmPath: string;
  labelsFile: string;
  /** The Normalize of the model's training data, which the trigger images get. */
  normalization: Normalization;
  /** Both or neither: without them nothing binds the trigger set to an earlier commitment. */
  keys?: { commitments: string; openings: string };
  say: (line: string) => void;
}

export interface VerifyOptions extends EvidenceOptions {
  modelPath: string;
  alpha: number;
  /** Decide with the null measured on unmarked models (wmnn calibrate) instead of the binomial one. */
  calibration?: Calibration;
  /** A ResNet-18 for this many classes on the chosen device (the CLI's engine flags), weights to be loaded. */
  createModel: (numClasses: number) => Model;
  batchSize: number;
  progress: ProgressMode;
}

/** The trigger set and its opened commitments: read once, however many models are checked against it. */
export interface TriggerEvidence {
  wmPath: string;
  labelsFile: string;
  set: TriggerSet;
  items: TriggerItem[];
  /** SHA-256 over the items (TRIGGER_SET_SCHEME). */
  digest: string;
  keys: { commitments: string; openings: string; commitmentsSha256: string; file: CommitmentsFile } | null;
}

/**
 * Labels are checked against each model's class count when it is scored (checkLabelsFit), so a
 * set read for many models is read with no bound of its own.
 */
const ANY_CLASS_COUNT = 2 ** 31 - 1;

/**
 * Reads and decodes the trigger set, and opens the commitments when `keys` are given. With
 * `numClasses` (one model, known already) the labels are checked against it as the set is read;
 * without it, checkLabelsFit does that per model.
 */
export async function loadTriggerEvidence(opts: EvidenceOptions, numClasses?: number): Promise<TriggerEvidence> {
  const committed = opts.keys ? readCommitmentsFile(opts.keys.commitments) : undefined;
  const openings = opts.keys ? readOpenings(opts.keys.openings) : undefined;
  const set = await timedAsync(PHASES.triggerDecode, () =>
    loadTriggerSet({
      path: opts.wmPath,
      labelsFile: opts.labelsFile,
      numClasses: numClasses ?? ANY_CLASS_COUNT,
      normalization: opts.normalization,
    }),
  );
  const items = triggerItems(opts.wmPath, set);
  let keys: TriggerEvidence['keys'] = null;
  if (opts.keys && committed && openings) {
    const { commitments, sha256 } = committed;
    openCommitments(items, commitments, openings, { ...opts.keys, triggerSet: opts.wmPath });
    opts.say(`Commitments: all ${items.length} openings match ${opts.keys.commitments}`);
    if (commitments.randomness.kind === 'seeded')
      opts.say(`  (a PUBLIC DEMO set from seed ${commitments.randomness.seed}: it proves nothing about ownership)`);
    keys = { ...opts.keys, commitmentsSha256: sha256, file: commitments };
  } else {
    opts.say('Commitments: none checked -- nothing shows that this trigger set was fixed before the model was seen');
  }
  return { wmPath: opts.wmPath, labelsFile: opts.labelsFile, set, items, digest: triggerSetDigest(items), keys };
}

/** One model to decide on: its file and an engine holding its weights, with the trigger set uploaded. */
export interface LoadedSuspect {
  path: string;
  /** The SHA-256 of the bytes the weights were read from. */
  sha256: string;
  model: Model;
  trigger: DeviceData;
}

/** Scores one loaded model on the evidence and decides at `alpha`. */
export async function verifyLoaded(
  evidence: TriggerEvidence,
  suspect: LoadedSuspect,
  opts: Pick<VerifyOptions, 'alpha' | 'calibration' | 'batchSize' | 'progress'>,
): Promise<VerifyRecord> {
  const modelClasses = suspect.model.numClasses;
  const r = await timedAsync(PHASES.forward, () =>
    evaluate(suspect.model, suspect.trigger, opts.batchSize, startProgress({ mode: opts.progress })),
  );
  const commitments = evidence.keys?.file;
  // The labels were drawn from the committed classes; without commitments, from the model's.
  const classes = commitments?.classes ?? modelClasses;
  const p = agreementPValue(r.correct, r.total, classes);
  const binomialShown = significant(p, opts.alpha);
  const calibrated = opts.calibration ? calibratedRecord(opts.calibration, evidence.digest, classes, r.correct, opts.alpha) : null;
  const shown = calibrated ? calibrated.shown : binomialShown;
  return {
    format: 'wmnn-verify-record',
    version: 1,
    wmnn: WMNN_VERSION,
    time: new Date().toISOString(),
    model: { path: resolve(suspect.path), sha256: suspect.sha256, classes: modelClasses },
    triggerSet: {
      path: resolve(evidence.wmPath),
      labelsFile: evidence.labelsFile,
      images: evidence.items.length,
      sha256: evidence.digest,
      digest: TRIGGER_SET_SCHEME,
    },
    commitments: evidence.keys
      ? {
          path: resolve(evidence.keys.commitments),
          sha256: evidence.keys.commitmentsSha256,
          openings: resolve(evidence.keys.openings),
          opened: evidence.items.length,
          randomness: evidence.keys.file.randomness,
        }
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
  if (c.digest !== digest)
    throw new Error(
      `${c.path}: calibrated on another trigger set (digest ${c.digest.slice(0, 12)}..., this one ${digest.slice(0, 12)}...)`,
    );
  if (c.classes !== classes)
    throw new Error(`${c.path}: calibrated for labels from ${c.classes} classes, but this trigger set's are from ${classes}`);
  const d = calibratedDecision(k, c.fit, c.agreements, alpha);
  return {
    path: resolve(c.path),
    sha256: c.sha256,
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

/** The read options verify uses: no momentum (scoring never needs it), the digest of the bytes read. */
export const SUSPECT_READ = { momentum: false, sha256: true } as const;

/** One model, as `wmnn verify --model_path` checks it: the model is read first, so a broken file fails before the images are decoded. */
export async function verifyWatermark(opts: VerifyOptions): Promise<VerifyRecord> {
  if (!(opts.alpha > 0 && opts.alpha < 1)) throw new Error(`--alpha must be in (0, 1), got ${opts.alpha}`);
  const ckpt = timed(PHASES.checkpointRead, () => readCheckpoint(opts.modelPath, SUSPECT_READ));
  const modelClasses = classesOf(ckpt);
  const evidence = await loadTriggerEvidence(opts, modelClasses);
  const model = timed(PHASES.modelBuild, () => {
    const m = opts.createModel(modelClasses);
    loadInto(m, ckpt, { momentum: false });
    return m;
  });
  opts.say(`Scoring ${opts.modelPath} on ${evidence.items.length} trigger images`);
  const suspect = { path: opts.modelPath, sha256: ckpt.sha256 ?? sha256File(opts.modelPath), model, trigger: model.upload(evidence.set) };
  return verifyLoaded(evidence, suspect, opts);
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
