// What `wmnn attack` can run and with what budget: the attack names, the attacker's budget (epochs,
// learning rates, the data it has) and the sweeps' strengths, each default named once with why.
import type { Checkpoint } from '../checkpoint/read.js';
import type { ImageSet } from '../data/dataset.js';
import { ATTACK_MODES, type AttackMode } from '../training/fine-tune.js';

export const ATTACKS = [
  ...ATTACK_MODES,
  'prune',
  'fine-prune',
  'quantize',
  'distill',
  'extract',
  'input',
  'label-smoothing',
  'overwrite',
] as const;
export type AttackName = (typeof ATTACKS)[number];

/** The report of earlier versions (the paper's four fine-tunings and magnitude pruning): the default. */
export const DEFAULT_ATTACKS: readonly AttackName[] = [...ATTACK_MODES, 'prune'];

export const isFineTuneMode = (a: AttackName): a is AttackMode => (ATTACK_MODES as readonly string[]).includes(a);

export interface AttackBudget {
  /** Epochs of every fine-tuning attack (FT*, fine-prune's tuning, label-smoothing, overwrite). */
  epochs: number;
  /** Their constant learning rate. */
  lr: number;
  /** Share (0, 1] of the training split the attacker has: what it fine-tunes on and, by default, distils over. */
  attackerShare: number;
  /** Epochs of a distill/extract student, trained from scratch. */
  studentEpochs: number;
  /** The student's initial lr (the original's train.py default); it drops tenfold at half the epochs. */
  studentLr: number;
  /** Distillation temperature T: the student learns softmax(teacher / T). */
  temperature: number;
  /** The label-smoothing attack's epsilon. */
  labelSmoothing: number;
  /** Images in the attacker's own trigger set (overwrite). */
  overwriteSize: number;
  /** Attacker's trigger images appended to every batch (the original's --wm_batch_size). */
  overwriteBatch: number;
}

/** The defaults of the budget flags. */
export const DEFAULT_BUDGET: AttackBudget = {
  epochs: 20, // fine-tune.py's --max_epochs
  lr: 0.001, // fine-tune.py's --lr
  attackerShare: 1, // fine-tune.py tunes on the whole training split
  studentEpochs: 20, // as many as a fine-tuning gets
  studentLr: 0.1, // train.py's --lr
  temperature: 4, // a middle value of Hinton et al.'s range (2..20)
  labelSmoothing: 0.1, // Szegedy et al.'s value for Inception
  overwriteSize: 100, // the paper's trigger-set size
  overwriteBatch: 2, // train.py's --wm_batch_size
};

/** Strengths of the sweeps. */
export interface AttackSweeps {
  /** Magnitude pruning: percent of the conv and linear weights zeroed. */
  prune: number[];
  /** Fine-pruning: percent of the last stage's channels removed before fine-tuning. */
  finePrune: number[];
  /** Weight quantization: bits per weight. */
  quantize: number[];
  /** Query-time JPEG quality (1..100). */
  jpeg: number[];
  /** Query-time Gaussian noise: std in pixel levels (0..255). */
  noise: number[];
  /** Query-time median filter: window side (odd). */
  median: number[];
}

export const DEFAULT_SWEEPS: AttackSweeps = {
  prune: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90],
  finePrune: [25, 50, 75, 90], // Liu et al. prune until clean accuracy starts to fall, then tune
  quantize: [8, 6, 4, 2], // 8 bits is what deployed integer models use; 2 bits is near the floor
  jpeg: [90, 70, 50, 30, 10],
  noise: [4, 8, 16, 32],
  median: [3, 5],
};

export interface AttackPlan {
  /** The checkpoint every attack starts again from. */
  checkpoint: Checkpoint;
  /** Chance agreement is 1/classes (the committed label classes). */
  classes: number;
  alpha: number;
  attacks: readonly AttackName[];
  budget: AttackBudget;
  sweeps: AttackSweeps;
  batchSize: number;
  /** Every draw of every attack comes from it; FT* use it as fine-tune does, so the two make the same model. */
  seed: number;
  /** distill/extract's transfer set when it is another dataset; absent: the attacker's share of the training split. */
  transfer?: { name: string; images: ImageSet };
  /** Save each trained model as <folder>/<section id>.t7 (ftll.t7, distill.t7, ...); absent: none are kept. */
  saveModelsTo?: string;
}

/** Whether an attack trains on the training split under this plan (the session must read it). */
export function needsTrainingData(plan: Pick<AttackPlan, 'attacks' | 'budget' | 'transfer'>): boolean {
  return plan.attacks.some((a) => {
    if (isFineTuneMode(a) || a === 'label-smoothing' || a === 'overwrite') return plan.budget.epochs > 0;
    if (a === 'fine-prune') return true; // channels are ranked on clean training images
    if (a === 'distill' || a === 'extract') return plan.budget.studentEpochs > 0 && !plan.transfer;
    return false;
  });
}
