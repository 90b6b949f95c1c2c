// `wmnn reproduce` on a small real subset of Fashion-MNIST: the models learn the data well above
// chance and learn the trigger set, the three report files are written, the report's numbers
// are those `predict` gives on the saved models, and a further attack (quantization: no training,
// so cheap) gets its rows from the attack step's own report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReproduceReport } from '../../src/reproduce/report.js';
import type { AttackReport } from '../../src/watermark/attack-report.js';
import { wmnnOk } from '../helpers/cli.js';
import { tempDir } from '../helpers/python.js';

const FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
const SIZES = ['--train_size', '400', '--test_size', '200'];

interface PredictJson {
  accuracy: number;
  correct: number;
  total: number;
}

test(
  'reproduce on a Fashion-MNIST subset: data and trigger set learnt, report files, numbers equal predict',
  {
    skip: !existsSync(join(FASHION_MNIST, 'train-images-idx3-ubyte.gz')) && 'no Fashion-MNIST (apt-get install dataset-fashion-mnist)',
  },
  (t) => {
    const { dir, cleanup } = tempDir('reproduce');
    t.after(cleanup);
    const key = join(dir, 'key');
    wmnnOk(['keygen', '--out', key, '--size', '10', '--classes', '10', '--seed', '3']);
    const out = join(dir, 'out');
    wmnnOk([
      'reproduce',
      '--dataset',
      'fashion-mnist',
      ...SIZES,
      '--wm_path',
      key,
      // 64 steps of 25 images: a 400-image subset reaches about 68% (measured), the 10 trigger
      // images are seen 32 times each.
      '--epochs',
      '4',
      '--lradj',
      '3',
      '--lr',
      '0.01',
      '--pretrained_epochs',
      '2',
      '--attack_epochs',
      '1',
      '--attacks',
      'FTLL,FTAL,RTLL,RTAL,quantize',
      '--batch_size',
      '25',
      '--wm_batch_size',
      '5',
      '--amp',
      'off',
      '--out',
      out,
    ]);
    for (const f of ['report.json', 'report.md', 'report.html']) assert.ok(existsSync(join(out, f)), `${f} written`);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as ReproduceReport;
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /<svg[^>]*class="chart"/, 'the report draws its charts');
    assert.equal(report.commands.length, 8);
    for (const c of report.commands) assert.ok(html.includes(c.line.replace(/'/g, '&#39;')), `the report lists ${c.line}`);

    const [baseline, fromScratch, preTrained] = report.models;
    assert.ok(baseline && fromScratch && preTrained);
    assert.ok(baseline.test.accuracy > 50, `the baseline learns Fashion-MNIST well above chance (${baseline.test.accuracy}%)`);
    assert.ok(fromScratch.trigger.accuracy >= 80, `FromScratch learns the trigger set (${fromScratch.trigger.accuracy}%)`);
    assert.ok(preTrained.trigger.accuracy >= 80, `PreTrained learns the trigger set (${preTrained.trigger.accuracy}%)`);
    assert.equal(report.attacks.length, 8);

    // The further attack: one row per marked model, the last point of its attack step's quantize section.
    const attackLines = report.commands.filter((c) => c.line.startsWith('wmnn attack ')).map((c) => c.line);
    assert.equal(attackLines.length, 2);
    for (const line of attackLines) assert.match(line, / --attacks FTLL,FTAL,RTLL,RTAL,quantize /);
    assert.deepEqual(
      report.furtherAttacks.map((a) => `${a.model} ${a.id} ${a.point}`),
      ['fromScratch quantize 2 bits', 'preTrained quantize 2 bits'],
    );
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    for (const row of report.furtherAttacks) {
      const attackReport = JSON.parse(readFileSync(join(out, 'attacks', row.model, 'attack-report.json'), 'utf8')) as AttackReport;
      const last = attackReport.attacks.find((a) => a.id === 'quantize')!.points.at(-1)!;
      assert.equal(row.trigger.correct, last.trigger.correct);
      assert.equal(row.test.correct, last.test.correct);
      assert.equal(row.pValueText, last.pValueText);
      const triggerCell = `${row.trigger.accuracy.toFixed(2)}% (${row.trigger.correct}/${row.trigger.total})`;
      const cells = [row.model, 'quantize', '2 bits', `${row.test.accuracy.toFixed(2)}%`, triggerCell, row.pValueText].join(' | ');
      assert.ok(md.includes(`| ${cells} |`), `report.md has the row ${cells}`);
      assert.ok(html.includes(`<td>${row.pValueText}</td>`));
    }

    const predict = (model: string, ...extra: string[]): PredictJson =>
      JSON.parse(
        wmnnOk(['predict', '--model_path', model, '--dataset', 'fashion-mnist', '--wm_path', key, '--json', ...extra]).stdout,
      ) as PredictJson;
    // A saved RTLL/RTAL model holds the attacker's layer: predict scores it as the attacker's-layer column.
    const scored = [
      ...report.models.map((m) => ({ name: m.name, path: m.checkpoint, score: m, trigger: m })),
      ...report.attacks
        .filter((a) => a.model === 'fromScratch' && (a.mode === 'FTAL' || a.mode === 'RTAL'))
        .map((a) => ({ name: `${a.model} ${a.mode}`, path: a.checkpoint, score: a.ownerLayer, trigger: a.attackerLayer ?? a.ownerLayer })),
    ];
    for (const { name, path, score, trigger } of scored) {
      const test = predict(path, '--test_size', '200');
      assert.equal(test.correct, score.test.correct, `${name}: test set`);
      assert.equal(test.total, 200);
      assert.equal(predict(path, '--testwm').correct, trigger.trigger.correct, `${name}: trigger set`);
    }
  },
);
