// End to end on the CPU, through the command line: keygen, a model trained with the trigger set
// and one trained without it, verify's decision and exit status, tampering refused, calibrate's
// null from unmarked models trained with other seeds and verify deciding with it, and the
// attack report with every attack at tiny budgets (zero strengths change nothing; each attack
// changes what it should; JSON and a PNG that decodes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { bytesOf } from '../../src/tensor.js';
import { agreementPValue } from '../../src/watermark/binomial.js';
import type { AttackReport } from '../../src/watermark/attack-report.js';
import type { CalibrationFile } from '../../src/watermark/calibration-file.js';
import type { VerifyRecord } from '../../src/watermark/record.js';
import { wmnn, wmnnOk } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

let dir = '';
let cleanup = (): void => {};
let set = '';
let marked = '';
let clean = '';
const SYNTH = ['--dataset', 'synthetic', '--synthetic_train', '50', '--synthetic_test', '20'];

before(() => {
  ({ dir, cleanup } = tempDir('verify'));
  set = join(dir, 'set');
  wmnnOk(['keygen', '--out', set, '--size', '10', '--classes', '10', '--seed', '7']);
  // Ten trigger images appended to every batch of ten, for 40 steps; the lr drops for the last
  // two epochs so that BatchNorm's running statistics catch up with the memorised images.
  const common = [...SYNTH, '--batch_size', '10', '--lr', '0.02', '--log_dir', join(dir, 'log'), '--json'];
  wmnnOk([
    'train',
    ...common,
    '--wmtrain',
    '--wm_path',
    set,
    '--wm_batch_size',
    '10',
    '--max_epochs',
    '8',
    '--lradj',
    '6',
    '--seed',
    '1',
    '--save_dir',
    join(dir, 'marked'),
  ]);
  wmnnOk(['train', ...common, '--max_epochs', '2', '--seed', '2', '--save_dir', join(dir, 'clean')]);
  marked = join(dir, 'marked', 'model.t7');
  clean = join(dir, 'clean', 'model.t7');
});
after(() => cleanup());

const record = (path: string): VerifyRecord => JSON.parse(readFileSync(path, 'utf8')) as VerifyRecord;
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const verify = (model: string, out: string, ...extra: string[]) =>
  wmnn(['verify', '--model_path', model, '--wm_path', set, '--out', out, ...extra]);

test('a watermarked model verifies with p < 1e-6, exit status 0, and a record that can be checked', () => {
  const out = join(dir, 'marked.json');
  const r = verify(marked, out);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /Commitments: all 10 openings match/);
  assert.match(r.stdout, /probability 1\/10/);
  const rec = record(out);
  assert.equal(rec.shown, true);
  assert.equal(rec.agreement.n, 10);
  assert.ok(rec.agreement.k >= 8, `k = ${rec.agreement.k}`);
  assert.ok(rec.log10PValue < -6);
  const p = agreementPValue(rec.agreement.k, 10, 10);
  assert.equal(rec.pValue, p.value);
  assert.equal(rec.pValueText, p.text);
  assert.equal(rec.model.sha256, sha256(marked));
  assert.equal(rec.commitments?.sha256, sha256(join(set, 'commitments.json')));
  assert.equal(rec.commitments?.opened, 10);
  assert.equal(rec.nullHypothesis.classes, 10);
  assert.equal(rec.alpha, 1e-6);
  assert.equal(rec.agreementsNeeded, 8);
  assert.equal(rec.wmnn, (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  assert.ok(Math.abs(Date.parse(rec.time) - Date.now()) < 600_000);
  // The same count as predict's trigger-set evaluation.
  const predicted = JSON.parse(wmnnOk(['predict', '--testwm', '--model_path', marked, '--wm_path', set, '--json']).stdout) as {
    correct: number;
  };
  assert.equal(predicted.correct, rec.agreement.k);
});

test('a model trained without the trigger set does not show the mark: exit status 1', () => {
  const out = join(dir, 'clean.json');
  const r = verify(clean, out);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^wmnn: watermark not shown: p = \S+ > alpha = 1\.00e-6$/m);
  const rec = record(out);
  assert.equal(rec.shown, false);
  assert.ok(rec.agreement.k < 8);
  assert.ok(rec.log10PValue > -6);
});

test('without commitments verify still decides, and the record says nothing was opened', () => {
  const bare = join(dir, 'bare');
  cpSync(join(set, 'pics'), join(bare, 'pics'), { recursive: true });
  cpSync(join(set, 'labels-cifar.txt'), join(bare, 'labels-cifar.txt'));
  const out = join(dir, 'bare.json');
  const r = wmnn(['verify', '--model_path', marked, '--wm_path', bare, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Commitments: none checked/);
  const rec = record(out);
  assert.equal(rec.commitments, null);
  assert.equal(rec.nullHypothesis.classesFrom, 'model');
  assert.equal(rec.triggerSet.sha256, record(join(dir, 'marked.json')).triggerSet.sha256);
});

test('errors exit with status 2: no model, a tampered image or nonce, half a key, a bad alpha', async () => {
  const out = join(dir, 'err.json');
  let r = verify(join(dir, 'nothing.t7'), out);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^wmnn: --model_path .*nothing\.t7: no checkpoint found there$/m);

  const image = join(dir, 'image');
  cpSync(set, image, { recursive: true });
  const png = await Jimp.read(join(image, 'pics', '3.png'));
  png.bitmap.data[0] = png.bitmap.data[0]! ^ 1; // a valid picture, one value different
  writeFileSync(join(image, 'pics', '3.png'), await png.getBuffer('image/png'));
  r = wmnn(['verify', '--model_path', marked, '--wm_path', image, '--out', out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^wmnn: pics\/3\.png: does not open its commitment/m);

  const nonce = join(dir, 'nonce');
  cpSync(set, nonce, { recursive: true });
  const openings = JSON.parse(readFileSync(join(nonce, 'openings.json'), 'utf8')) as { items: { file: string; nonce: string }[] };
  openings.items[4]!.nonce = openings.items[4]!.nonce.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
  writeFileSync(join(nonce, 'openings.json'), JSON.stringify(openings));
  r = wmnn(['verify', '--model_path', marked, '--wm_path', nonce, '--out', out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`^wmnn: ${openings.items[4]!.file}: does not open its commitment`, 'm'));

  r = verify(marked, out, '--commitments', join(set, 'commitments.json'));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--commitments and --openings go together/);
  r = verify(marked, out, '--alpha', '2');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--alpha must be between 0 and 1 \(exclusive\), got 2/);
});

test('calibrate: unmarked models trained with other seeds give a threshold the marked model passes and an unmarked one fails', () => {
  const calibration = join(dir, 'calibration.json');
  const models = join(dir, 'null-models');
  const r = wmnnOk([
    'calibrate',
    '--wm_path',
    set,
    ...SYNTH,
    '--batch_size',
    '10',
    '--lr',
    '0.02',
    '--max_epochs',
    '2',
    '--train',
    '3',
    '--seed',
    '11',
    '--models_dir',
    models,
    '--alpha',
    '1e-3',
    '--out',
    calibration,
    '--json',
  ]);
  const file = JSON.parse(r.stdout) as CalibrationFile;
  assert.deepEqual(JSON.parse(readFileSync(calibration, 'utf8')), file);
  assert.deepEqual(
    file.models.map((m) => m.trained?.seed),
    [11, 12, 13],
  );
  assert.equal(file.triggerSet.sha256, record(join(dir, 'marked.json')).triggerSet.sha256);
  assert.equal(file.classesFrom, 'commitments');
  for (const m of file.models) {
    assert.equal(m.sha256, sha256(m.path));
    assert.ok(m.agreement.k < file.threshold, `an unmarked model (${m.agreement.k}) is below the threshold (${file.threshold})`);
  }
  // The same agreement verify counts for that model.
  const first = join(dir, 'first.json');
  verify(file.models[0]!.path, first);
  assert.equal(record(first).agreement.k, file.models[0]!.agreement.k);

  const markedOut = join(dir, 'marked-calibrated.json');
  let v = verify(marked, markedOut, '--calibration', calibration, '--alpha', '1e-3');
  assert.equal(v.status, 0, v.stderr + v.stdout);
  const m = record(markedOut);
  assert.equal(m.decidedBy, 'calibrated');
  assert.equal(m.calibration?.threshold, file.threshold);
  assert.ok(m.agreement.k >= file.threshold);
  assert.match(m.decision, /^watermark shown \(calibrated\)/);
  assert.equal(m.pValueText, agreementPValue(m.agreement.k, 10, 10).text, 'the binomial p-value beside');
  assert.match(v.stdout, /Calibrated null: .* measured on 3 unmarked models/);

  const cleanOut = join(dir, 'clean-calibrated.json');
  v = verify(clean, cleanOut, '--calibration', calibration, '--alpha', '1e-3');
  assert.equal(v.status, 1, v.stderr);
  assert.equal(record(cleanOut).decidedBy, 'calibrated');
  assert.equal(record(cleanOut).calibration?.shown, false);
  assert.equal(record(markedOut.replace('-calibrated', '')).decidedBy, 'binomial');

  // A calibration of another trigger set, or too few models, is refused before anything is written.
  const other = join(dir, 'other-calibration.json');
  writeFileSync(other, JSON.stringify({ ...file, triggerSet: { ...file.triggerSet, sha256: '0'.repeat(64) } }));
  v = verify(marked, join(dir, 'never.json'), '--calibration', other);
  assert.equal(v.status, 2);
  assert.match(v.stderr, /other-calibration\.json: calibrated on another trigger set/);
  assert.ok(!existsSync(join(dir, 'never.json')));
  v = wmnn(['calibrate', '--wm_path', set, '--models', clean, '--out', join(dir, 'never.json')]);
  assert.equal(v.status, 2);
  assert.match(v.stderr, /calibrate needs at least 2 unmarked models/);
});

test('attack, every attack: zero strengths keep the mark and change nothing; each attack changes what it should; JSON and chart', async () => {
  const out = join(dir, 'report');
  const r = wmnnOk([
    'attack',
    '--model_path',
    marked,
    '--wm_path',
    set,
    ...SYNTH,
    '--batch_size',
    '25',
    '--lr',
    '0.01',
    '--epochs',
    '1',
    '--attacks',
    'all',
    '--attacker_share',
    '0.5',
    '--prune',
    '50,0',
    '--fine_prune',
    '0,50',
    '--quantize',
    '16,2',
    '--jpeg',
    '50',
    '--noise',
    '0,32',
    '--median',
    '1,3',
    '--student_epochs',
    '1',
    '--student_lr',
    '0.01',
    '--overwrite_size',
    '10',
    '--overwrite_batch',
    '5',
    '--seed',
    '3',
    '--out',
    out,
    '--save_models',
    '--json',
  ]);
  const report = JSON.parse(r.stdout) as AttackReport;
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'attack-report.json'), 'utf8')), report);
  assert.equal(report.version, 2);
  const ids = [
    'FTLL',
    'FTAL',
    'RTLL',
    'RTAL',
    'prune',
    'fine-prune',
    'quantize',
    'distill',
    'extract',
    'input-jpeg',
    'input-noise',
    'input-median',
    'label-smoothing',
    'overwrite',
  ];
  assert.deepEqual(
    report.attacks.map((a) => a.id),
    ids,
  );
  const section = (id: string) => report.attacks.find((a) => a.id === id)!;
  const at = (id: string, x: number) => section(id).points.find((p) => p.x === x)!;

  // The untouched model, scored by predict (test set) and verify (trigger set).
  const predicted = JSON.parse(
    wmnnOk(['predict', '--model_path', marked, '--dataset', 'synthetic', '--synthetic_test', '20', '--json']).stdout,
  ) as { correct: number; total: number };
  const k = record(join(dir, 'marked.json')).agreement.k;
  assert.equal(report.original.test.correct, predicted.correct);
  assert.equal(report.original.trigger.correct, k);
  // Zero strength: the very same predictions, and the mark shown.
  for (const p of [at('prune', 0), at('input-noise', 0), at('input-median', 1), at('fine-prune', 0).before!]) {
    assert.equal(p.test.correct, predicted.correct);
    assert.equal(p.trigger.correct, k);
    assert.equal(p.shown, true);
  }
  assert.equal(at('quantize', 16).shown, true);
  assert.equal(at('prune', 0).details?.zeroed, 0);
  assert.equal(at('prune', 50).details?.zeroed, Math.round(at('prune', 50).details!.total! / 2));
  assert.ok(at('quantize', 2).details!.maxDistinctValues! <= 4);
  assert.equal(at('fine-prune', 50).details?.channelsPruned, 256);
  assert.equal(at('overwrite', 1).details?.attackerTriggerImages, 10);
  for (const id of ['FTLL', 'label-smoothing', 'overwrite'])
    assert.deepEqual(
      section(id).points.map((p) => p.x),
      [0, 1],
    );
  for (const id of ['distill', 'extract'])
    assert.deepEqual(
      section(id).points.map((p) => p.label),
      ['fresh student', 'epoch 1'],
    );
  assert.equal(section('distill').budget.transferImages, 25, "the attacker's half of the 50 training images");
  for (const a of report.attacks) {
    assert.ok(a.title && a.description && a.axis.name, `${a.id} describes itself`);
    assert.equal(
      a.survives,
      a.points.every((p) => p.shown),
    );
    for (const p of [...a.points, ...a.points.flatMap((q) => (q.before ? [q.before] : []))]) {
      assert.equal(p.pValueText, agreementPValue(p.trigger.correct, p.trigger.total, 10).text);
      assert.equal(p.shown, p.log10PValue <= -6);
    }
  }

  // Fine-pruning's cut channels are still zero after its fine-tuning: 256 all-zero columns of linear.weight.
  const pruned = readCheckpoint(join(out, 'fine-prune-50.t7')).tensors.get('linear.weight')!;
  const w = pruned.data as Float32Array;
  let zeroColumns = 0;
  for (let c = 0; c < 512; c++) if (Array.from({ length: 10 }, (_, j) => w[j * 512 + c]).every((v) => v === 0)) zeroColumns++;
  assert.equal(zeroColumns, 256);
  assert.ok(
    readCheckpoint(join(out, 'fine-prune-0.t7'))
      .tensors.get('linear.weight')!
      .data.every((v) => v !== 0),
  );
  // The distilled and extracted students share no weight tensor with the suspect.
  const teacher = readCheckpoint(marked).tensors;
  for (const student of ['distill.t7', 'extract.t7']) {
    for (const [name, t] of readCheckpoint(join(out, student)).tensors) {
      if (!name.endsWith('.weight') || name.includes('bn')) continue;
      assert.ok(
        !Buffer.from(bytesOf(t.data)).equals(Buffer.from(bytesOf(teacher.get(name)!.data))),
        `${student}: ${name} is the teacher's`,
      );
    }
  }

  const chart = join(out, 'attack-report.png');
  const img = await Jimp.read(chart); // decodes, or throws
  assert.equal(img.bitmap.width, 3 * 420);
  assert.equal(img.bitmap.height, 96 + Math.ceil(ids.length / 3) * 320);
  const colours = new Set<number>();
  const d = img.bitmap.data;
  for (let i = 0; i < d.length; i += 4) colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
  assert.ok(colours.has(0xd62728) && colours.has(0x1f6fb4), 'both series are drawn');
});

test('attack refuses bad lists and budgets before writing anything', () => {
  const out = join(dir, 'bad-report');
  const run = (...extra: string[]) => wmnn(['attack', '--model_path', marked, '--wm_path', set, ...SYNTH, '--out', out, ...extra]);
  const cases: [string[], RegExp][] = [
    [['--attacks', 'FTLL,nope'], /--attacks: unknown attack 'nope'/],
    [['--quantize', '0'], /--quantize: '0' is not a whole number of bits/],
    [['--jpeg', '101'], /--jpeg: '101' is not a JPEG quality/],
    [['--median', '4'], /--median: '4' is not an odd window side/],
    [['--attacker_share', '0'], /--attacker_share must be more than 0 and at most 1/],
    [['--label_smoothing', '1'], /--label_smoothing must be in \[0, 1\)/],
    [['--temperature', '0'], /--temperature must be more than 0/],
  ];
  for (const [extra, message] of cases) {
    const r = run(...extra);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, message);
  }
  assert.ok(!existsSync(join(out, 'attack-report.json')));
});
