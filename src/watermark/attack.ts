// The attack report: how the mark survives removal attempts. Each attack the plan names runs from
// the same checkpoint, in the same session, and makes one section of points (two or more for the
// input attack's three sweeps), each scored on the test set, on the trigger set and by verify's
// p-value. The paper's four fine-tunings are the very routine `wmnn fine-tune` runs.
import { loadInto } from '../training/persist.js';
import type { Session } from '../training/session.js';
import { isFineTuneMode, type AttackName, type AttackPlan } from './attack-plan.js';
import { score, type AttackSection, type ReportPoint } from './attack-points.js';
import { attackContext, type AttackContext } from './attacks/context.js';
import { distillation } from './attacks/distill.js';
import { finePruning } from './attacks/fine-prune.js';
import { labelSmoothing, overwrite, paperFineTuning } from './attacks/fine-tuning.js';
import { inputAttacks } from './attacks/input.js';
import { pruning, quantization } from './attacks/post-training.js';

export interface AttackResults {
  original: ReportPoint;
  attacks: AttackSection[];
}

/** Whether an attack has anything to run under the plan (no epochs, an empty sweep: skipped). */
export function runs(plan: AttackPlan, a: AttackName): boolean {
  const { budget, sweeps } = plan;
  if (isFineTuneMode(a) || a === 'label-smoothing' || a === 'overwrite') return budget.epochs > 0;
  if (a === 'distill' || a === 'extract') return budget.studentEpochs > 0;
  if (a === 'prune') return sweeps.prune.length > 0;
  if (a === 'fine-prune') return sweeps.finePrune.length > 0;
  if (a === 'quantize') return sweeps.quantize.length > 0;
  return sweeps.jpeg.length + sweeps.noise.length + sweeps.median.length > 0; // input
}

async function run(ctx: AttackContext, a: AttackName): Promise<AttackSection[]> {
  if (isFineTuneMode(a)) return [await paperFineTuning(ctx, a)];
  switch (a) {
    case 'prune':
      return [await pruning(ctx)];
    case 'quantize':
      return [await quantization(ctx)];
    case 'input':
      return inputAttacks(ctx);
    case 'fine-prune':
      return [await finePruning(ctx)];
    case 'distill':
    case 'extract':
      return [await distillation(ctx, a)];
    case 'label-smoothing':
      return [await labelSmoothing(ctx)];
    case 'overwrite':
      return [await overwrite(ctx)];
  }
}

/**
 * Runs the plan's attacks in `s`, in the plan's order, each from the checkpoint's weights. The
 * session's model holds the checkpoint's weights again afterwards.
 */
export async function runAttacks(s: Session, plan: AttackPlan): Promise<AttackResults> {
  if (!s.trigger) throw new Error('an attack report needs the trigger set');
  const settings = { classes: plan.classes, alpha: plan.alpha, batchSize: plan.batchSize, say: s.say, progressMode: s.progressMode };
  loadInto(s.model, plan.checkpoint, { momentum: false });
  const original = await score({ model: s.model, test: s.test, trigger: s.trigger }, settings, 'original');
  const ctx = attackContext(s, plan, original, settings);
  const attacks: AttackSection[] = [];
  for (const a of plan.attacks) {
    if (!runs(plan, a)) continue;
    attacks.push(...(await run(ctx, a)));
    loadInto(s.model, plan.checkpoint, { momentum: false }); // the next attack starts from the suspect as shipped
    ctx.checkStop();
  }
  return { original, attacks };
}
