// reproduce's further attacks: the attack step passes the budget flags of the attacks it runs and
// no others, and the report's rows are the last points of a real `wmnn attack` report on a tiny
// synthetic model (the numbers are the report's; a saved attacked model scores the same in predict).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ATTACKS } from '../../src/watermark/attack-plan.js';
import type { AttackReport } from '../../src/watermark/attack-report.js';
import { protocolSteps, type ProtocolSettings } from '../../src/reproduce/protocol.js';
import { furtherAttackResults } from '../../src/reproduce/results.js';
import { wmnnOk } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

const SETTINGS: ProtocolSettings = {
  dataset: 'fashion-mnist',
  trainSize: 1000,
  testSize: 500,
  syntheticTrain: 0,
  syntheticTest: 0,
  triggerPath: 'key',
  triggerLabels: 'labels-cifar.txt',
  epochs: 4,
  pretrainedEpochs: 2,
  attacks: ['FTLL', 'FTAL', 'RTLL', 'RTAL'],
  attackEpochs: 1,
  attackerShare: 0.5,
  studentEpochs: 3,
  lr: 0.01,
  lradj: 3,
  attackLr: 0.001,
  batchSize: 50,
  triggerBatchSize: 20,
  alpha: 1e-6,
  seed: 0,
  engine: [],
  parallel: [],
  out: 'out',
};

const attackArgs = (s: ProtocolSettings): string[][] => protocolSteps(s).flatMap((st) => (st.kind === 'attack' ? [st.args] : []));
const flag = (args: string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};

test('the attack step runs the listed attacks with their budget flags, and only theirs', () => {
  const paper = attackArgs(SETTINGS);
  assert.equal(paper.length, 2, 'one attack step per marked model');
  for (const args of paper) {
    assert.equal(flag(args, '--attacks'), 'FTLL,FTAL,RTLL,RTAL');
    for (const f of ['--student_epochs', '--student_lr', '--overwrite_batch', '--prune']) assert.ok(!args.includes(f), `no ${f}`);
  }
  for (const args of attackArgs({ ...SETTINGS, attacks: ATTACKS })) {
    assert.equal(flag(args, '--attacks'), ATTACKS.join(','));
    assert.equal(flag(args, '--epochs'), '1');
    assert.equal(flag(args, '--student_epochs'), '3');
    assert.equal(flag(args, '--student_lr'), '0.01', "the owner's lr");
    assert.equal(flag(args, '--overwrite_batch'), '20', "as many trigger images a batch as the owner's");
  }
  assert.deepEqual(attackArgs({ ...SETTINGS, attacks: [] }), [], 'no attacks: no attack step');
});

test("further-attack rows are each section's last point of a real attack report", (t) => {
  const { dir, cleanup } = tempDir('further-attacks');
  t.after(cleanup);
  const key = join(dir, 'key');
  wmnnOk(['keygen', '--out', key, '--size', '10', '--classes', '10', '--seed', '5']);
  const data = ['--dataset', 'synthetic', '--synthetic_train', '30', '--synthetic_test', '20'];
  const trigger = ['--wm_path', key];
  wmnnOk(
    ['train', ...data, ...trigger, '--wmtrain', '--wm_batch_size', '10', '--batch_size', '10', '--max_epochs', '1'].concat([
      '--lr',
      '0.02',
      '--save_dir',
      join(dir, 'model'),
      '--log_dir',
      join(dir, 'log'),
      '--json',
    ]),
  );
  const model = join(dir, 'model', 'model.t7');
  const out = join(dir, 'attacks');
  const report = JSON.parse(
    wmnnOk([
      'attack',
      '--model_path',
      model,
      ...data,
      ...trigger,
      '--attacks',
      'FTLL,quantize,input,label-smoothing',
      '--quantize',
      '8,2',
      '--jpeg',
      '50',
      '--noise',
      '8',
      '--median',
      '3',
      '--epochs',
      '1',
      '--batch_size',
      '10',
      '--save_models',
      '--out',
      out,
      '--json',
    ]).stdout,
  ) as AttackReport;

  const rows = furtherAttackResults(out, 'fromScratch', report);
  assert.deepEqual(
    rows.map((r) => r.id),
    ['quantize', 'input-jpeg', 'input-noise', 'input-median', 'label-smoothing'],
    'every section but the fine-tuning, in the report order',
  );
  for (const row of rows) {
    const section = report.attacks.find((a) => a.id === row.id)!;
    const last = section.points.at(-1)!;
    assert.equal(row.point, last.label);
    assert.equal(row.x, last.x);
    assert.deepEqual(row.test, last.test);
    assert.deepEqual([row.trigger.correct, row.trigger.total], [last.trigger.correct, last.trigger.total]);
    assert.equal(row.pValueText, last.pValueText);
    assert.equal(row.shown, last.shown);
    assert.deepEqual(row.budget, section.budget);
  }
  assert.equal(rows[0]!.point, '2 bits', "the sweep's last strength");
  assert.ok(
    rows.slice(0, 4).every((r) => r.checkpoint === undefined),
    'the attacks that train nothing save nothing',
  );

  // The label-smoothed model the row names is the one it scored.
  const smoothed = rows.find((r) => r.id === 'label-smoothing')!;
  assert.equal(smoothed.checkpoint, join(out, 'label-smoothing.t7'));
  const testSet = ['--dataset', 'synthetic', '--synthetic_test', '20'];
  const predicted = JSON.parse(wmnnOk(['predict', '--model_path', smoothed.checkpoint!, ...testSet, '--json']).stdout) as {
    correct: number;
  };
  assert.equal(predicted.correct, smoothed.test.correct);
  const onTrigger = JSON.parse(wmnnOk(['predict', '--model_path', smoothed.checkpoint!, ...trigger, '--testwm', '--json']).stdout) as {
    correct: number;
  };
  assert.equal(onTrigger.correct, smoothed.trigger.correct);
});
