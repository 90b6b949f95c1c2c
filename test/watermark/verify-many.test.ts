// verify and predict over many models in one process, through the real command line: a folder
// of mixed files (written by wmnn, by PyTorch as zip and legacy, a 100-class model, a safetensors
// export, a hostile pickle, a truncated file) gets one row and one record per file, the good
// ones the same decision as verifying each alone, and the exit status of the rule (0 all shown,
// 1 one read but not shown, 2 one unreadable). Peak memory does not grow with the number of files.
//
// The trigger set is ten noise images all labelled 3, so a model's agreement is set by its
// linear layer: a bias of +1e4 on class 3 shows the mark (10/10), -1e4 never does (0/10).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeStateDict } from '../../src/checkpoint/write.js';
import { CIFAR_NORMALIZATION } from '../../src/data/normalization.js';
import { Model } from '../../src/native/engine.js';
import { saveModel } from '../../src/training/persist.js';
import type { Tensor } from '../../src/tensor.js';
import type { VerifyRecord } from '../../src/watermark/record.js';
import type { ModelRecord } from '../../src/watermark/verify-many.js';
import { verifyWatermark } from '../../src/watermark/verify.js';
import { checkpointZip, pk } from '../checkpoint/hostile-files.js';
import { measuredCli, type MeasuredCli } from '../helpers/measured-cli.js';
import { runReference, tempDir } from '../helpers/python.js';
import { makeTriggerSet } from '../helpers/trigger.js';

const LABEL = 3;
const IMAGES = 10;
const MiB = 1 << 20;

let dir = '';
let cleanup = (): void => {};
let cli: MeasuredCli | null = null;
let set = '';
let mixed = '';
const single = new Map<string, VerifyRecord>();

/** A 10-class model whose linear layer forces class LABEL (`towards` +1) or forbids it (-1). */
function biased(seed: number, towards: 1 | -1): Model {
  const m = new Model({ numClasses: 10, seed });
  const bias = m.read('linear.bias') as Tensor<'float32'>;
  bias.data[LABEL] = towards * 1e4;
  m.write('linear.bias', bias);
  return m;
}

before(async () => {
  ({ dir, cleanup } = tempDir('verify-many'));
  cli = await measuredCli('verify-many');
  set = join(dir, 'set');
  makeTriggerSet(set, IMAGES, 10, 5);
  writeFileSync(join(set, 'labels-cifar.txt'), `${LABEL.toExponential(18).replace(/e\+(\d)$/, 'e+0$1')}\n`.repeat(IMAGES));

  mixed = join(dir, 'mixed');
  mkdirSync(join(mixed, 'pytorch'), { recursive: true });
  // wmnn-written, with SGD momentum (after one step), so the file carries the 'wmnn' extra.
  const shown = biased(1, 1);
  shown.setSgd({ lr: 0, momentum: 0.9, weightDecay: 0 });
  await shown.trainStep({
    data: shown.upload({ images: new Uint8Array(2 * 3072), labels: Int32Array.of(0, 1), normalization: CIFAR_NORMALIZATION }),
    start: 0,
    count: 2,
  });
  saveModel(join(mixed, 'a-wmnn.t7'), shown, { acc: 0, epoch: 0, state: { seed: 1 } });
  writeStateDict(join(mixed, 'b-not-shown.pt'), biased(2, -1).stateDict());
  runReference('make_checkpoints.py', [join(mixed, 'pytorch'), 'trained-zip.t7', 'trained-legacy.t7', 'c100-zip.t7']);
  // A hostile pickle (a code-running global) and a file cut in half.
  writeFileSync(join(mixed, 'c-hostile.t7'), checkpointZip(pk("\x80\x02cposix\nsystem\n(S'touch pwned'\ntR.")));
  const whole = readFileSync(join(mixed, 'a-wmnn.t7'));
  writeFileSync(join(mixed, 'd-truncated.pth'), whole.subarray(0, whole.length >> 1));
  writeFileSync(join(mixed, 'not-a-model.txt'), 'ignored: not a model suffix');
  const e = await cli.run(['export', join(mixed, 'a-wmnn.t7'), join(mixed, 'e-shown.safetensors'), '--format', 'safetensors']);
  assert.equal(e.code, 0, e.stderr);

  for (const f of [
    'a-wmnn.t7',
    'b-not-shown.pt',
    'e-shown.safetensors',
    'pytorch/trained-zip.t7',
    'pytorch/trained-legacy.t7',
    'pytorch/c100-zip.t7',
  ]) {
    const path = join(mixed, f);
    single.set(
      path,
      await verifyWatermark({
        modelPath: path,
        wmPath: set,
        labelsFile: 'labels-cifar.txt',
        normalization: CIFAR_NORMALIZATION,
        alpha: 1e-6,
        createModel: (n) => new Model({ numClasses: n, init: false }),
        batchSize: 100,
        say: () => {},
        progress: 'silent',
      }),
    );
  }
});
after(() => {
  cli?.cleanup();
  cleanup();
});

function records(path: string): ModelRecord[] {
  return readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as ModelRecord);
}

test('a mixed folder: one row and one record per model file, the good ones as verified alone, exit 2', async () => {
  const out = join(dir, 'mixed.jsonl');
  const r = await (cli as MeasuredCli).run(['verify', '--models', mixed, '--wm_path', set, '--out', out]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, 'wmnn: 2 of 8 models could not be read\n');
  const recs = records(out);
  const files = [
    'a-wmnn.t7',
    'b-not-shown.pt',
    'c-hostile.t7',
    'd-truncated.pth',
    'e-shown.safetensors',
    'pytorch/c100-zip.t7',
    'pytorch/trained-legacy.t7',
    'pytorch/trained-zip.t7',
  ];
  assert.deepEqual(
    recs.map((x) => x.model.path),
    files.map((f) => join(mixed, f)),
    'every model file, sorted, nothing else',
  );
  const rows = r.stdout.split('\n');
  for (const [i, rec] of recs.entries()) {
    // The model column keeps the end of a long path.
    const row = rows.find((l) => (l.split(/ {2,}/)[0] as string).endsWith(files[i] as string));
    assert.ok(row, `a row for ${rec.model.path}`);
    const alone = single.get(rec.model.path);
    if (alone === undefined) {
      assert.equal(rec.format, 'wmnn-verify-error');
      assert.match(row, / error +\d+\.\d\d$/);
      continue;
    }
    assert.equal(rec.format, 'wmnn-verify-record');
    const many = rec as VerifyRecord;
    for (const k of ['agreement', 'pValueText', 'shown', 'decision', 'nullHypothesis', 'agreementsNeeded'] as const) {
      assert.deepEqual(many[k], alone[k], `${rec.model.path}: ${k}`);
    }
    assert.deepEqual(many.model, alone.model);
    assert.equal(many.triggerSet.sha256, alone.triggerSet.sha256);
    assert.match(
      row,
      new RegExp(` ${many.model.classes} +${many.agreement.k}/${IMAGES} +\\S+ +${many.shown ? 'shown' : 'not shown'} +\\d+\\.\\d\\d$`),
    );
  }
  const errors = recs.filter((x) => x.format === 'wmnn-verify-error');
  assert.match(errors[0]?.format === 'wmnn-verify-error' ? errors[0].error : '', /GLOBAL 'posix system' is not allowed/);
  assert.match(errors[1]?.format === 'wmnn-verify-error' ? errors[1].error : '', /d-truncated\.pth: truncated/);
  assert.equal((single.get(join(mixed, 'a-wmnn.t7')) as VerifyRecord).agreement.k, IMAGES, 'the biased model shows the mark');
  assert.equal((single.get(join(mixed, 'b-not-shown.pt')) as VerifyRecord).agreement.k, 0);
  assert.equal((single.get(join(mixed, 'pytorch/c100-zip.t7')) as VerifyRecord).model.classes, 100);
  assert.match(r.stdout, /^8 models: 2 show the mark, \d do not, 2 could not be read \(/m);
});

test('exit status: 0 when every model shows the mark, 1 when one read does not', async () => {
  const c = cli as MeasuredCli;
  const a = join(mixed, 'a-wmnn.t7');
  const all = await c.run([
    'verify',
    '--model_path',
    a,
    '--model_path',
    join(mixed, 'e-shown.safetensors'),
    '--wm_path',
    set,
    '--out',
    join(dir, 'all.jsonl'),
  ]);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stderr, '');
  assert.equal(records(join(dir, 'all.jsonl')).length, 2);
  const some = await c.run([
    'verify',
    '--model_path',
    a,
    '--model_path',
    join(mixed, 'b-not-shown.pt'),
    '--wm_path',
    set,
    '--out',
    join(dir, 'some.jsonl'),
    '--json',
  ]);
  assert.equal(some.code, 1, some.stderr);
  assert.equal(some.stderr, 'wmnn: the mark is not shown in 1 of 2 models\n');
  const j = JSON.parse(some.stdout) as { summary: { shown: number; notShown: number; errors: number }; records: ModelRecord[] };
  assert.deepEqual({ ...j.summary, seconds: 0 }, { models: 2, shown: 1, notShown: 1, errors: 0, seconds: 0 });
});

test("predict --models scores every file in one run; its correct counts are verify's agreements", async () => {
  const r = await (cli as MeasuredCli).run(['predict', '--models', mixed, '--testwm', '--wm_path', set, '--json']);
  assert.equal(r.code, 2, r.stderr);
  const j = JSON.parse(r.stdout) as { results: { model: string; ok: boolean; correct?: number; total?: number }[] };
  assert.equal(j.results.length, 8);
  for (const x of j.results) {
    const alone = single.get(x.model);
    assert.equal(x.ok, alone !== undefined, x.model);
    if (alone) assert.deepEqual([x.correct, x.total], [alone.agreement.k, alone.agreement.n], x.model);
  }
});

test('peak memory does not grow with the number of models (5 against 20 files)', async (t) => {
  const real = ['a-wmnn.t7', 'b-not-shown.pt', 'pytorch/trained-zip.t7', 'pytorch/trained-legacy.t7'].map((f) => join(mixed, f));
  const folder = (n: number): string => {
    const d = join(dir, `many-${n}`);
    mkdirSync(d);
    // Hard links: every entry is read from disk as its own 45-89 MB file, for no extra space.
    for (let i = 0; i < n; i++) linkSync(real[i % real.length] as string, join(d, `m${String(i).padStart(2, '0')}.t7`));
    return d;
  };
  const peak = async (n: number): Promise<number> => {
    const r = await (cli as MeasuredCli).run(['verify', '--models', folder(n), '--wm_path', set, '--out', join(dir, `m${n}.jsonl`)]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(records(join(dir, `m${n}.jsonl`)).length, n);
    return r.maxRssBytes;
  };
  const five = await peak(5);
  const twenty = await peak(20);
  const mb = (b: number): string => `${(b / MiB).toFixed(0)} MiB`;
  t.diagnostic(`peak RSS: ${mb(five)} for 5 models, ${mb(twenty)} for 20`);
  assert.ok(twenty < five * 1.15 + 32 * MiB, `peak RSS ${mb(five)} for 5 models, ${mb(twenty)} for 20`);
});
