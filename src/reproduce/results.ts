// The report's rows, read from what the protocol's steps printed with --json: a model's row from
// its training epochs and verify's record, an attack's rows from the attack step's report
// (attack-report.json). Nothing is computed here that a step did not print.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EpochJson, PhaseSummary } from '../training/run.js';
import { isFineTuneMode } from '../watermark/attack-plan.js';
import type { AttackPoint, AttackSection, ReportPoint } from '../watermark/attack-points.js';
import type { AttackReport } from '../watermark/attack-report.js';
import type { VerifyRecord } from '../watermark/record.js';
import { MODEL_TITLES, type ModelName } from './protocol.js';
import type { AttackResult, FurtherAttackResult, ModelResult, Score } from './report.js';

/** What `wmnn train --json` prints. */
export interface TrainJson {
  epochs: EpochJson[];
  interrupted: boolean;
}

interface Agreement {
  k: number;
  n: number;
  pValueText: string;
  log10PValue: number;
  shown: boolean;
}

const scoreOf = (test: PhaseSummary, v: Agreement): Score => ({
  test,
  trigger: { correct: v.k, total: v.n, accuracy: v.n > 0 ? (100 * v.k) / v.n : 0 },
  pValueText: v.pValueText,
  log10PValue: v.log10PValue,
  shown: v.shown,
});

const pointScore = (p: ReportPoint): Score =>
  scoreOf(p.test, { k: p.trigger.correct, n: p.trigger.total, pValueText: p.pValueText, log10PValue: p.log10PValue, shown: p.shown });

/** A model's row: its last epoch's test accuracy, verify's agreements and decision, its curve. */
export function modelResult(
  checkpoint: string,
  name: ModelName,
  runs: TrainJson[],
  record: VerifyRecord,
  baselineTest: number,
): ModelResult {
  const epochs = runs.flatMap((r) => r.epochs);
  const last = epochs.at(-1);
  if (!last?.test) throw new Error(`reproduce: the ${name} model has no finished epoch`);
  const score = scoreOf(last.test, {
    k: record.agreement.k,
    n: record.agreement.n,
    pValueText: record.pValueText,
    log10PValue: record.log10PValue,
    shown: record.shown,
  });
  return {
    name,
    title: MODEL_TITLES[name],
    checkpoint: resolve(checkpoint),
    ...score,
    costPoints: last.test.accuracy - baselineTest,
    curve: epochs.map((e) => ({
      epoch: e.epoch,
      trainLoss: e.train.loss,
      trainAccuracy: e.train.accuracy,
      testAccuracy: e.test?.accuracy ?? null,
      triggerAccuracy: e.trigger?.accuracy ?? null,
    })),
  };
}

function lastPoint(model: ModelName, s: AttackSection): AttackPoint {
  const last = s.points.at(-1);
  if (!last) throw new Error(`reproduce: the ${s.id} attack on ${model} reported nothing`);
  return last;
}

/** The paper's four fine-tunings at their last epoch; `folder` is the attack step's --out (its --save_models). */
export function attackResults(folder: string, model: ModelName, report: AttackReport): AttackResult[] {
  return report.attacks.flatMap((run) => {
    if (!isFineTuneMode(run.attack)) return [];
    const last = lastPoint(model, run);
    return [
      {
        model,
        mode: run.attack,
        epochs: last.x,
        ownerLayer: pointScore(last),
        ...(last.attackerLayer ? { attackerLayer: pointScore(last.attackerLayer) } : {}),
        checkpoint: resolve(join(folder, `${run.attack.toLowerCase()}.t7`)),
      },
    ];
  });
}

/**
 * The model an attack saved for its last point with --save_models (fine-prune: one per ratio;
 * the input, pruning and quantization attacks train nothing and save none).
 */
function savedModel(folder: string, s: AttackSection, last: AttackPoint): string | undefined {
  const path = resolve(join(folder, `${(s.attack === 'fine-prune' ? `${s.id}-${last.x}` : s.id).toLowerCase()}.t7`));
  return existsSync(path) ? path : undefined;
}

/**
 * Every other section at its last point: the end of a training (distill, extract, label-smoothing,
 * overwrite, fine-prune's largest ratio after its tuning) or the last strength of a sweep, which
 * in the sweeps' default order is the strongest (90% pruned, 2 bits, JPEG quality 10, ...).
 */
export function furtherAttackResults(folder: string, model: ModelName, report: AttackReport): FurtherAttackResult[] {
  return report.attacks.flatMap((s) => {
    if (isFineTuneMode(s.attack)) return [];
    const last = lastPoint(model, s);
    const checkpoint = savedModel(folder, s, last);
    return [
      {
        model,
        id: s.id,
        attack: s.attack,
        title: s.title,
        point: last.label,
        x: last.x,
        budget: s.budget,
        ...pointScore(last),
        ...(last.details ? { details: last.details } : {}),
        ...(checkpoint ? { checkpoint } : {}),
      },
    ];
  });
}
