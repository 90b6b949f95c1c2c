// Verify over many suspect models in one run: the trigger set decoded and the commitments opened
// once, then every model scored against them (training/many-models: the next file read while one
// is scored, engines reused). Every model gets a record -- the single verify's record, or an error
// record for a file that could not be read -- and a row of the summary table.
import type { Calibration } from './calibration-file.js';
import { resolve } from 'node:path';
import type { Model } from '../native/engine.js';
import { checkLabelsFit, scoreMany } from '../training/many-models.js';
import { formatProbability } from './binomial.js';
import { WMNN_VERSION, type VerifyRecord } from './record.js';
import { loadTriggerEvidence, SUSPECT_READ, verifyLoaded, type EvidenceOptions, type TriggerEvidence } from './verify.js';

/** The record of a model that could not be checked (unreadable, hostile, the wrong shape). */
export interface VerifyErrorRecord {
  format: 'wmnn-verify-error';
  version: 1;
  wmnn: string;
  time: string;
  model: { path: string; classes: number | null };
  error: string;
}

export type ModelRecord = VerifyRecord | VerifyErrorRecord;

/** One row of the summary table. */
export interface VerifyRow {
  model: string;
  classes: number | null;
  /** `k/n`, or null when the model was not scored. */
  agreements: string | null;
  pValue: string | null;
  decision: 'shown' | 'not shown' | 'error';
  seconds: number;
  /** The reason, for an error row. */
  error?: string;
}

export interface VerifySummary {
  models: number;
  shown: number;
  notShown: number;
  errors: number;
  seconds: number;
}

export interface VerifyManyOptions extends EvidenceOptions {
  modelPaths: readonly string[];
  alpha: number;
  /** As verify's: decide with the null measured on unmarked models. */
  calibration?: Calibration;
  createModel: (numClasses: number) => Model;
  batchSize: number;
  /** Each model's record and row, in the order of `modelPaths`, as soon as it is decided. */
  onModel: (record: ModelRecord, row: VerifyRow, index: number) => void;
}

function rowOf(record: ModelRecord, seconds: number, path: string): VerifyRow {
  if (record.format === 'wmnn-verify-error') {
    return { model: path, classes: record.model.classes, agreements: null, pValue: null, decision: 'error', seconds, error: record.error };
  }
  const { k, n } = record.agreement;
  return {
    model: path,
    classes: record.model.classes,
    agreements: `${k}/${n}`,
    pValue: record.pValueText,
    decision: record.shown ? 'shown' : 'not shown',
    seconds,
  };
}

/** Checks every model against one trigger set; returns the totals. */
export async function verifyMany(opts: VerifyManyOptions): Promise<VerifySummary> {
  if (!(opts.alpha > 0 && opts.alpha < 1)) throw new Error(`--alpha must be in (0, 1), got ${opts.alpha}`);
  const t0 = performance.now();
  const evidence: TriggerEvidence = await loadTriggerEvidence(opts);
  const summary: VerifySummary = { models: opts.modelPaths.length, shown: 0, notShown: 0, errors: 0, seconds: 0 };
  opts.say(
    `Scoring ${opts.modelPaths.length} models on ${evidence.items.length} trigger images at alpha = ${formatProbability(opts.alpha)}`,
  );
  await scoreMany(opts.modelPaths, {
    read: SUSPECT_READ,
    createModel: opts.createModel,
    prepare: (model) => model.upload(evidence.set),
    accept: (_checkpoint, classes) => checkLabelsFit(evidence.set, classes, evidence.labelsFile),
    score: (model, trigger, path, checkpoint) =>
      verifyLoaded(
        evidence,
        { path, sha256: checkpoint.sha256 as string, model, trigger },
        {
          alpha: opts.alpha,
          ...(opts.calibration ? { calibration: opts.calibration } : {}),
          batchSize: opts.batchSize,
          progress: 'silent',
        },
      ),
    onOutcome: (o, index) => {
      const record: ModelRecord = o.ok
        ? o.result
        : {
            format: 'wmnn-verify-error',
            version: 1,
            wmnn: WMNN_VERSION,
            time: new Date().toISOString(),
            model: { path: resolve(o.path), classes: o.classes },
            error: o.error,
          };
      if (!o.ok) summary.errors++;
      else if (o.result.shown) summary.shown++;
      else summary.notShown++;
      opts.onModel(record, rowOf(record, o.seconds, o.path), index);
    },
  });
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}
