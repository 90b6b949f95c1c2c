// `wmnn attack`: how well the mark survives removal attempts -- the four fine-tuning attacks of
// fine-tune.py and a global magnitude-pruning sweep, each point with test accuracy, trigger
// accuracy and verify's p-value; a table, a JSON report and a PNG chart.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { readCheckpoint } from '../checkpoint/read.js';
import { datasetName } from '../data/sources.js';
import type { AttackMode } from '../training/fine-tune.js';
import { classesOf } from '../training/persist.js';
import { withSession } from '../training/session.js';
import { ATTACK_MODES, DEFAULT_PRUNE_RATES, runAttacks } from '../watermark/attack.js';
import { reportTable, type AttackReport } from '../watermark/attack-report.js';
import { agreementsNeeded } from '../watermark/binomial.js';
import { renderAttackChart } from '../watermark/chart.js';
import { COMMITMENTS_FILE, readCommitments } from '../watermark/key-files.js';
import { nullStatement, sha256File, WMNN_VERSION } from '../watermark/record.js';
import { chooseSeed, CliError, output, requireFile, requireWritableDir, sessionSpec, triggerSpec } from './common.js';
import { type ArgsOf, ENGINE_FLAGS, FINETUNE_FLAGS, flagCommand, type FlagTable, RUN_FLAGS } from './flags.js';

export const ATTACK_TABLE = {
  model_path: { type: 'str', default: './checkpoint/model.t7', added: true, help: 'the watermarked model to attack (a .t7 checkpoint)' },
  lr: FINETUNE_FLAGS.lr,
  train_db_path: FINETUNE_FLAGS.train_db_path,
  test_db_path: FINETUNE_FLAGS.test_db_path,
  dataset: FINETUNE_FLAGS.dataset,
  wm_path: FINETUNE_FLAGS.wm_path,
  wm_lbl: FINETUNE_FLAGS.wm_lbl,
  batch_size: FINETUNE_FLAGS.batch_size,
  epochs: { type: 'int', range: 'nonNegative', default: FINETUNE_FLAGS.max_epochs.default, added: true, help: 'fine-tuning epochs of each attack (0: pruning only)' },
  attacks: { type: 'str', default: ATTACK_MODES.join(','), added: true, help: 'the fine-tuning attacks to run, comma-separated (empty: none)' },
  prune: { type: 'str', default: DEFAULT_PRUNE_RATES.join(','), added: true, help: 'pruning rates in percent of the conv and linear weights, comma-separated (empty: none)' },
  commitments: { type: 'str', added: true, help: `commitments.json, for the classes the labels were drawn from (default: <wm_path>/${COMMITMENTS_FILE} if present, else the model's classes)` },
  alpha: { type: 'float', range: 'probability', default: 1e-6, added: true, help: 'significance level of the mark, as in verify' },
  out: { type: 'str', default: './attack-report/', added: true, help: 'folder for attack-report.json and attack-report.png' },
  save_models: { type: 'bool', default: false, added: true, help: 'also save each fine-tuned model as <out>/<attack>.t7 (ftll.t7, ...)' },
  ...ENGINE_FLAGS,
  ...RUN_FLAGS,
} as const satisfies FlagTable;
type AttackArgs = ArgsOf<typeof ATTACK_TABLE>;

export function registerAttack(program: Command): void {
  flagCommand(program, 'attack', 'report how the watermark survives fine-tuning (FTLL, FTAL, RTLL, RTAL) and magnitude pruning: table, JSON and PNG chart', ATTACK_TABLE, attack);
}

const items = (list: string): string[] => list.split(',').map((s) => s.trim()).filter((s) => s !== '');

function parseAttacks(list: string): AttackMode[] {
  const modes = items(list).map((s) => s.toUpperCase());
  for (const m of modes) {
    if (!(ATTACK_MODES as readonly string[]).includes(m)) throw new CliError(`--attacks: unknown attack '${m}' (choose from ${ATTACK_MODES.join(', ')})`);
  }
  return [...new Set(modes)] as AttackMode[];
}

function parseRates(list: string): number[] {
  const rates = items(list).map((s) => {
    const r = Number(s);
    if (!Number.isFinite(r) || r < 0 || r >= 100) throw new CliError(`--prune: '${s}' is not a rate in percent, 0 <= rate < 100`);
    return r;
  });
  return [...new Set(rates)].sort((a, b) => a - b);
}

/** The classes the trigger labels were drawn from: committed, else the model's. */
function labelClasses(args: AttackArgs, modelClasses: number): { classes: number; classesFrom: 'commitments' | 'model' } {
  const path = args.commitments ?? join(args.wm_path, COMMITMENTS_FILE);
  if (args.commitments === undefined && !existsSync(path)) return { classes: modelClasses, classesFrom: 'model' };
  return { classes: readCommitments(path).classes, classesFrom: 'commitments' };
}

async function attack(args: AttackArgs): Promise<void> {
  const out = output(args.json);
  datasetName(args.dataset);
  const attacks = parseAttacks(args.attacks);
  const pruneRates = parseRates(args.prune);
  requireFile('model_path', args.model_path);
  requireWritableDir('out', args.out);

  const ckpt = readCheckpoint(args.model_path);
  const numClasses = classesOf(ckpt);
  const { classes, classesFrom } = labelClasses(args, numClasses);
  const fineTuning = attacks.length > 0 && args.epochs > 0;
  const seed = chooseSeed(args.seed);
  const spec = {
    ...sessionSpec(args, out, 'stopping without a report', fineTuning),
    trigger: triggerSpec(args),
    checkpoint: ckpt,
    classesFrom: 'checkpoint' as const,
    seed,
    announceModel: '==> loading model...',
  };
  const { results, triggerImages, agreedSeed, primary } = await withSession(spec, async (s) => ({
    results: await runAttacks(s, {
      checkpoint: ckpt,
      classes,
      alpha: args.alpha,
      pruneRates,
      attacks: fineTuning ? attacks : [],
      epochs: args.epochs,
      lr: args.lr,
      batchSize: args.batch_size,
      seed: s.seed,
      ...(args.save_models ? { saveModelsTo: args.out } : {}),
    }),
    triggerImages: s.sets.trigger?.count ?? 0,
    agreedSeed: s.seed,
    primary: s.primary,
  }));
  if (!primary) return; // in a data-parallel job, rank 0 writes the report

  const report: AttackReport = {
    format: 'wmnn-attack-report',
    version: 1,
    wmnn: WMNN_VERSION,
    time: new Date().toISOString(),
    model: { path: resolve(args.model_path), sha256: sha256File(args.model_path), classes: numClasses },
    triggerSet: { path: resolve(args.wm_path), labelsFile: args.wm_lbl, images: triggerImages },
    nullHypothesis: { classes, classesFrom, statement: nullStatement(classes) },
    alpha: args.alpha,
    agreementsNeeded: agreementsNeeded(triggerImages, classes, args.alpha),
    settings: { dataset: args.dataset, lr: args.lr, epochs: args.epochs, batchSize: args.batch_size, seed: agreedSeed, attacks, pruneRates },
    ...results,
  };
  const jsonPath = join(args.out, 'attack-report.json');
  const pngPath = join(args.out, 'attack-report.png');
  writeFileAtomic(jsonPath, [Buffer.from(`${JSON.stringify(report, null, 2)}\n`)]);
  writeFileAtomic(pngPath, [await renderAttackChart(report, basename(args.model_path))]);
  out.say('');
  out.say(reportTable(report));
  out.say('');
  out.say(`Report: ${jsonPath}`);
  out.say(`Chart:  ${pngPath}`);
  out.result(report);
}
