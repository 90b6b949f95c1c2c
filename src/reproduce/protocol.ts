// The paper's experiment (Adi et al. 2018, section 5) as a list of wmnn commands: a baseline
// without the watermark, the two ways of marking (FromScratch: the trigger set appended from the
// first batch; PreTrained: the baseline trained on with the trigger set appended), the four
// fine-tuning attacks (and any further ones asked for) on each marked model, and verify on every
// model. Each step is a command a user can type, so the report's commands are exactly what made
// its numbers.
import { join } from 'node:path';
import type { AttackName } from '../watermark/attack-plan.js';

/** The experiment's settings, all of them explicit (reproduce's flags, sizes chosen by the device). */
export interface ProtocolSettings {
  dataset: string;
  /** --train_db_path/--test_db_path when given; absent: each command's default (a dataset's own folder). */
  trainRoot?: string;
  testRoot?: string;
  /** First N images of each split; 0: all. */
  trainSize: number;
  testSize: number;
  /** Synthetic set sizes (only with --dataset synthetic). */
  syntheticTrain: number;
  syntheticTest: number;
  triggerPath: string;
  triggerLabels: string;
  /** Epochs of the baseline and of FromScratch. */
  epochs: number;
  /** Further epochs with the trigger set that make PreTrained from the baseline. */
  pretrainedEpochs: number;
  /** The attacks run on each marked model (`wmnn attack --attacks`); empty: no attack step. */
  attacks: readonly AttackName[];
  /** Fine-tuning epochs of each attack (FT*, fine-prune's tuning, label-smoothing, overwrite). */
  attackEpochs: number;
  /** Share (0, 1] of the training subset the attacker has (attack --attacker_share). */
  attackerShare: number;
  /** Epochs of a distill/extract student, trained from scratch. */
  studentEpochs: number;
  lr: number;
  lradj: number;
  attackLr: number;
  batchSize: number;
  triggerBatchSize: number;
  alpha: number;
  seed: number;
  /** Engine flags passed to every step (device, threads, amp, ...) as `--flag value` pairs. */
  engine: readonly string[];
  /** Data-parallel flags (--nproc, --timeout) for the steps that train: train and attack. */
  parallel: readonly string[];
  out: string;
}

/** The models of the experiment, in the paper's words. */
export const MODELS = ['baseline', 'fromScratch', 'preTrained'] as const;
export type ModelName = (typeof MODELS)[number];
export const MARKED: readonly ModelName[] = ['fromScratch', 'preTrained'];

export const MODEL_TITLES: Record<ModelName, string> = {
  baseline: 'Baseline (no watermark)',
  fromScratch: 'FromScratch (trigger set from the first epoch)',
  preTrained: 'PreTrained (baseline, then trained on with the trigger set)',
};

export type StepKind = 'train' | 'attack' | 'verify';

export interface Step {
  kind: StepKind;
  /** The model the step makes or examines. */
  model: ModelName;
  title: string;
  /** The wmnn command line, without `wmnn`; `--json` is added when it runs. */
  args: string[];
  /** Exit statuses that are results, not failures (verify: 1 = mark not shown). */
  accept: readonly number[];
}

export interface Layout {
  models: string;
  logs: string;
  attacks: string;
  records: string;
}

export const layout = (s: Pick<ProtocolSettings, 'out'>): Layout => ({
  models: join(s.out, 'models'),
  logs: join(s.out, 'logs'),
  attacks: join(s.out, 'attacks'),
  records: join(s.out, 'verify'),
});

export const modelFile = (s: Pick<ProtocolSettings, 'out'>, model: ModelName): string => join(layout(s).models, `${model}.t7`);
export const attackFolder = (s: Pick<ProtocolSettings, 'out'>, model: ModelName): string => join(layout(s).attacks, model);

const num = (x: number): string => String(x);

/** The data flags every step that reads the splits takes. */
function dataFlags(s: ProtocolSettings): string[] {
  return [
    '--dataset',
    s.dataset,
    ...(s.trainRoot !== undefined ? ['--train_db_path', s.trainRoot] : []),
    ...(s.testRoot !== undefined ? ['--test_db_path', s.testRoot] : []),
    '--train_size',
    num(s.trainSize),
    '--test_size',
    num(s.testSize),
    ...(s.dataset === 'synthetic' ? ['--synthetic_train', num(s.syntheticTrain), '--synthetic_test', num(s.syntheticTest)] : []),
  ];
}

const triggerFlags = (s: ProtocolSettings): string[] => ['--wm_path', s.triggerPath, '--wm_lbl', s.triggerLabels];

/**
 * The budget flags of the further attacks, given only when one of them runs (the paper's four
 * need none beyond --epochs and --lr). The attacker trains as the owner did: a student gets the
 * owner's learning rate (the plan's, which learns on this device's subset), and an overwriting
 * attacker appends as many of its own trigger images to every batch as the owner appended.
 */
function furtherBudgetFlags(s: ProtocolSettings): string[] {
  const has = (...names: AttackName[]): boolean => names.some((n) => s.attacks.includes(n));
  return [
    ...(has('distill', 'extract') ? ['--student_epochs', num(s.studentEpochs), '--student_lr', num(s.lr)] : []),
    ...(has('overwrite') ? ['--overwrite_batch', num(s.triggerBatchSize)] : []),
  ];
}

function trainStep(s: ProtocolSettings, model: ModelName, title: string, extra: string[], lradj = s.lradj): Step {
  const args = [
    'train',
    ...dataFlags(s),
    ...triggerFlags(s),
    '--lr',
    num(s.lr),
    '--lradj',
    num(lradj),
    '--batch_size',
    num(s.batchSize),
    '--wm_batch_size',
    num(s.triggerBatchSize),
    '--save_dir',
    layout(s).models,
    '--save_model',
    `${model}.t7`,
    '--log_dir',
    layout(s).logs,
    '--runname',
    model,
    '--seed',
    num(s.seed),
    ...s.engine,
    ...s.parallel,
    ...extra,
  ];
  return { kind: 'train', model, title, args, accept: [0] };
}

/** Every step, in the order they run (each later step reads what an earlier one saved). */
export function protocolSteps(s: ProtocolSettings): Step[] {
  const steps: Step[] = [
    trainStep(s, 'baseline', 'Train the baseline, without the trigger set', ['--max_epochs', num(s.epochs)]),
    trainStep(s, 'fromScratch', 'FromScratch: train with the trigger set appended to every batch', [
      '--max_epochs',
      num(s.epochs),
      '--wmtrain',
    ]),
    // PreTrained continues the baseline's epochs at --lr throughout (its --lradj lies past its last
    // epoch): by then the baseline's schedule has decayed, and at a tenth of --lr the trigger set
    // is barely learnt (measured on the CPU plan: 19% after 2 epochs).
    trainStep(
      s,
      'preTrained',
      'PreTrained: train the baseline on with the trigger set appended',
      ['--resume', '--load_path', modelFile(s, 'baseline'), '--max_epochs', num(s.pretrainedEpochs), '--wmtrain'],
      s.epochs + s.pretrainedEpochs,
    ),
  ];
  for (const model of MODELS) {
    steps.push({
      kind: 'verify',
      model,
      title: `Verify the ${model} model`,
      args: [
        'verify',
        '--model_path',
        modelFile(s, model),
        '--dataset',
        s.dataset,
        ...triggerFlags(s),
        '--alpha',
        num(s.alpha),
        '--out',
        join(layout(s).records, `${model}.json`),
        ...s.engine,
      ],
      accept: [0, 1],
    });
  }
  for (const model of s.attacks.length > 0 ? MARKED : []) {
    steps.push({
      kind: 'attack',
      model,
      title: `Attack the ${model} model: ${s.attacks.join(', ')}`,
      args: [
        'attack',
        '--model_path',
        modelFile(s, model),
        ...dataFlags(s),
        ...triggerFlags(s),
        '--attacks',
        s.attacks.join(','),
        ...furtherBudgetFlags(s),
        '--epochs',
        num(s.attackEpochs),
        '--attacker_share',
        num(s.attackerShare),
        '--lr',
        num(s.attackLr),
        '--batch_size',
        num(s.batchSize),
        '--alpha',
        num(s.alpha),
        '--out',
        attackFolder(s, model),
        '--save_models',
        '--seed',
        num(s.seed),
        ...s.engine,
        ...s.parallel,
      ],
      accept: [0],
    });
  }
  return steps;
}

/** A command line as a user would type it: arguments quoted for a POSIX shell where needed. */
export function shellLine(args: readonly string[]): string {
  return ['wmnn', ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
