// The three commands end to end on small synthetic data on the CPU: the watermark is learnt, the
// files are the original's, predict reproduces train's numbers, PyTorch loads what train wrote,
// the four fine-tuning attacks behave as published.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { readNpy, writeNpy } from '../../src/checkpoint/npy.js';
import { synthetic } from '../../src/data/synthetic.js';
import { SYNTHETIC_SEED } from '../../src/data/sources.js';
import { bytesOf, type Tensor } from '../../src/tensor.js';
import { wmnnOk } from '../helpers/cli.js';
import { runReference, tempDir } from '../helpers/python.js';
import { makeTriggerSet } from '../helpers/trigger.js';

const LOSS_ACC = /^Loss: \d+\.\d{3} \| Acc: \d+\.\d{3}% \(\d+\/\d+\)$/;
const TEST_SIZE = 200;

interface PhaseJson {
  loss: number;
  accuracy: number;
  correct: number;
  total: number;
}
interface EpochJson {
  epoch: number;
  lr: number;
  train: PhaseJson;
  test: PhaseJson;
  trigger: PhaseJson | null;
}
interface RunJson {
  epochs: EpochJson[];
  initialTrigger?: PhaseJson | null;
  initial?: { trigger: PhaseJson; test: PhaseJson } | null;
}

const same = (a: Tensor | undefined, b: Tensor | undefined): boolean =>
  a !== undefined && b !== undefined && Buffer.compare(Buffer.from(bytesOf(a.data)), Buffer.from(bytesOf(b.data))) === 0;

describe('train -> predict -> fine-tune on synthetic data', () => {
  const { dir, cleanup } = tempDir('e2e');
  const trigger = join(dir, 'trigger');
  const ckptDir = join(dir, 'checkpoint');
  const logDir = join(dir, 'log');
  const model = join(ckptDir, 'model.t7');
  const common = [
    '--dataset',
    'synthetic',
    '--synthetic_test',
    String(TEST_SIZE),
    '--wm_path',
    trigger,
    '--save_dir',
    ckptDir,
    '--log_dir',
    logDir,
    '--json',
  ];
  let run: RunJson;
  let last: EpochJson;

  before(() => {
    makeTriggerSet(trigger, 10, 10, 5);
    // The whole 10-image trigger set rides along with every batch of 50; lr 0.01 then 0.001.
    const r = wmnnOk([
      'train',
      ...common,
      '--synthetic_train',
      '300',
      '--batch_size',
      '50',
      '--wm_batch_size',
      '10',
      '--max_epochs',
      '6',
      '--lradj',
      '4',
      '--lr',
      '0.01',
      '--seed',
      '3',
      '-wmt',
    ]);
    run = JSON.parse(r.stdout) as RunJson;
    last = run.epochs.at(-1)!;
  });
  after(cleanup);

  test('the trigger set is learnt (100%) while test accuracy is well above chance', () => {
    assert.equal(run.epochs.length, 6);
    assert.equal(last.trigger?.accuracy, 100, `trigger accuracy ${last.trigger?.accuracy}`);
    assert.ok(last.test.accuracy >= 40, `test accuracy ${last.test.accuracy} (chance: 10)`);
    assert.ok(run.initialTrigger && run.initialTrigger.accuracy < 100);
    assert.deepEqual(
      run.epochs.map((e) => e.lr),
      [0.01, 0.01, 0.01, 0.01, 0.01 * 0.1, 0.01 * 0.1],
    ); // lr * 0.1 ** (epoch // lradj)
  });

  test('the log and conf files have the original names and line formats', () => {
    const log = readFileSync(join(logDir, 'log_train.txt'), 'utf8').split('\n');
    assert.equal(log.pop(), '');
    // Trigger set before training; then per epoch: the epoch, the test set, the trigger set.
    const expected = [
      'Test results:',
      ...Array.from({ length: 6 }, (_, e) => [`Epoch: ${e}`, 'L', 'Test results:', 'L', 'Test results:', 'L']).flat(),
    ];
    expected.splice(1, 0, 'L');
    assert.equal(log.length, expected.length);
    log.forEach((line, i) => (expected[i] === 'L' ? assert.match(line, LOSS_ACC) : assert.equal(line, expected[i])));
    const conf = readFileSync(join(logDir, 'conf_train.txt'), 'utf8').trimEnd().split('\n');
    assert.deepEqual(conf.slice(0, 3), ['lr: 0.01', 'train_db_path: ./data', 'test_db_path: ./data']);
    assert.ok(conf.includes('wmtrain: True') && conf.includes('resume: False') && conf.includes('max_epochs: 6'));
    for (const line of conf) assert.match(line, /^\w+: .*$/);
  });

  test("predict reproduces the last epoch's test and trigger accuracies", () => {
    const logits = join(dir, 'logits.npy');
    const testRun = JSON.parse(
      wmnnOk([
        'predict',
        '--model_path',
        model,
        '--dataset',
        'synthetic',
        '--synthetic_test',
        String(TEST_SIZE),
        '--json',
        '--save_logits',
        logits,
      ]).stdout,
    ) as PhaseJson & { predictions: number[]; checkpoint: { acc: number; epoch: number } };
    const saved = readNpy(new Uint8Array(readFileSync(logits)));
    assert.deepEqual(saved.shape, [TEST_SIZE, 10]);
    const argmax = (i: number) =>
      Array.from(saved.data.slice(i * 10, i * 10 + 10) as Float32Array).reduce((best, v, c, row) => (v > row[best]! ? c : best), 0);
    assert.deepEqual(
      testRun.predictions,
      Array.from({ length: TEST_SIZE }, (_, i) => argmax(i)),
    );
    assert.equal(testRun.correct, last.test.correct);
    assert.equal(testRun.total, TEST_SIZE);
    assert.equal(testRun.predictions.length, TEST_SIZE);
    assert.equal(testRun.checkpoint.epoch, 5);
    assert.ok(Math.abs(testRun.checkpoint.acc - last.test.accuracy) < 1e-4);
    const wmRun = wmnnOk(['predict', '--model_path', model, '--testwm', '--wm_path', trigger]);
    const lines = wmRun.stdout.trimEnd().split('\n');
    assert.equal(lines.at(-1), `Loss: ${last.trigger!.loss.toFixed(3)} | Acc: 100.000% (10/10)`);
  });

  test('the checkpoint loads in PyTorch (models.resnet) and scores the same', () => {
    const set = synthetic({ split: 'test', count: TEST_SIZE, seed: SYNTHETIC_SEED });
    writeFileSync(join(dir, 'x.npy'), writeNpy({ dtype: 'uint8', shape: [TEST_SIZE, 3, 32, 32], data: set.images }));
    writeFileSync(join(dir, 'y.npy'), writeNpy({ dtype: 'int32', shape: [TEST_SIZE], data: set.labels }));
    const py = JSON.parse(runReference('eval_checkpoint.py', [model, join(dir, 'x.npy'), join(dir, 'y.npy')])) as {
      correct: number;
      cls: string;
      acc: number;
      epoch: number;
    };
    assert.equal(py.cls, 'models.resnet.ResNet');
    assert.equal(py.correct, last.test.correct);
    assert.equal(py.epoch, 5);
  });

  const source = () => readCheckpoint(model).tensors;
  const fineTune = (flags: string[], runname: string) => {
    const r = wmnnOk([
      'fine-tune',
      ...common,
      '--synthetic_train',
      '100',
      '--batch_size',
      '50',
      '--max_epochs',
      '1',
      '--lr',
      '0.01',
      '--load_path',
      model,
      '--runname',
      runname,
      '--seed',
      '1',
      ...flags,
    ]);
    const out = JSON.parse(r.stdout) as RunJson & { mode: string; checkpoint: string };
    return { out, tensors: readCheckpoint(out.checkpoint).tensors, ckpt: readCheckpoint(out.checkpoint) };
  };

  test('FTLL and RTLL: hidden layers bit-identical, BatchNorm statistics moved, linear trained, requires_grad as the original saves it', () => {
    const src = source();
    for (const [flags, mode] of [
      [[], 'FTLL'],
      [['--reinitll'], 'RTLL'],
    ] as const) {
      const { out, tensors, ckpt } = fineTune([...flags], mode.toLowerCase());
      assert.equal(out.mode, mode);
      assert.ok(out.checkpoint.endsWith(`${mode.toLowerCase()}finetune.t7`), out.checkpoint);
      for (const name of ['conv1.weight', 'layer2.0.shortcut.0.weight', 'layer4.1.bn2.weight'])
        assert.ok(same(tensors.get(name), src.get(name)), `${mode}: ${name} frozen`);
      assert.ok(!same(tensors.get('layer4.1.bn2.running_mean'), src.get('layer4.1.bn2.running_mean')), `${mode}: BN statistics move`);
      assert.ok(!same(tensors.get('linear.weight'), src.get('linear.weight')), `${mode}: linear trained`);
      assert.equal(ckpt.requiresGrad.get('conv1.weight'), false);
      assert.equal(ckpt.requiresGrad.get('linear.weight'), true);
    }
  });

  test("RTLL scores the trigger set with the private key: the owner's linear on the tuned features", () => {
    const src = source();
    const { out, tensors } = fineTune(['--reinitll'], 'rtll-key');
    // The fine-tuned model with the loaded (owner's) last layer put back.
    const keyed = new Map(tensors);
    keyed.set('linear.weight', src.get('linear.weight')!);
    keyed.set('linear.bias', src.get('linear.bias')!);
    const path = join(dir, 'keyed.t7');
    writeCheckpoint(path, { tensors: keyed, training: false, acc: 0, epoch: 0 });
    const r = JSON.parse(wmnnOk(['predict', '--model_path', path, '--testwm', '--wm_path', trigger, '--json']).stdout) as PhaseJson;
    assert.equal(r.correct, out.epochs[0]!.trigger!.correct);
    // ... and the trained layer itself is what the checkpoint holds.
    assert.ok(!same(tensors.get('linear.weight'), src.get('linear.weight')));
  });

  test('FTAL and RTAL tune every layer', () => {
    const src = source();
    for (const [flags, mode] of [
      [['--tunealllayers'], 'FTAL'],
      [['--reinitll', '--tunealllayers'], 'RTAL'],
    ] as const) {
      const { out, tensors, ckpt } = fineTune([...flags], mode.toLowerCase());
      assert.equal(out.mode, mode);
      assert.ok(!same(tensors.get('conv1.weight'), src.get('conv1.weight')), `${mode}: conv1 tuned`);
      assert.equal(ckpt.requiresGrad.get('conv1.weight'), true);
      assert.ok(
        out.initial && out.epochs.length === 1 && out.epochs[0]!.epoch === 5,
        'fine-tuning epochs are numbered from the loaded epoch',
      );
    }
  });
});
