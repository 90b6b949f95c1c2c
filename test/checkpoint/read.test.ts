// wmnn reads what PyTorch wrote: every reference case of docs/checkpoint-format.md §15, tensor for
// tensor (sha256 of the raw bytes), with flags, acc, epoch and locations; model checks (§10.2)
// and checkFits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, checkFits, readCheckpoint } from '../../src/checkpoint/read.js';
import { resnet18Graph, stateEntries } from '../../src/checkpoint/resnet-graph.js';
import { runReference, tempDir, tensorSha } from '../helpers/python.js';

export interface ManifestTensor {
  name: string;
  shape: number[];
  dtype: string;
  sha256: string;
  requires_grad: boolean | null;
}
export interface ManifestEntry {
  container: 'zip' | 'legacy';
  archive: string | null;
  tensors: ManifestTensor[];
  training: Record<string, boolean>;
  acc: { value: number; dtype: string | null } | null;
  epoch: number | null;
  prefix: string;
}

let dir = '';
let cleanup = (): void => {};
let manifest: Record<string, ManifestEntry>;

before(() => {
  ({ dir, cleanup } = tempDir('read'));
  runReference('make_checkpoints.py', [dir]);
  manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, ManifestEntry>;
});
after(() => cleanup());

test('every reference file reads tensor for tensor, with flags, acc and epoch', () => {
  const names = Object.keys(manifest);
  assert.ok(names.length >= 14, `${names.length} reference files`);
  for (const name of names) {
    const m = manifest[name] as ManifestEntry;
    const c = readCheckpoint(join(dir, name));
    assert.equal(c.file, name);
    assert.equal(c.container, m.container, name);
    assert.equal(c.archiveName, m.archive, name);
    assert.equal(c.pickleProtocol, 2, name);
    assert.deepEqual(
      [...c.tensors.keys()],
      m.tensors.map((t) => t.name),
      `${name}: names in state_dict order`,
    );
    for (const e of m.tensors) {
      const t = c.tensors.get(e.name);
      assert.ok(t, `${name}: ${e.name}`);
      assert.deepEqual(t.shape, e.shape, `${name}: ${e.name} shape`);
      assert.equal(t.dtype, e.dtype, `${name}: ${e.name} dtype`);
      assert.equal(tensorSha(t), e.sha256, `${name}: ${e.name} bytes`);
    }
    const isModule = Object.keys(m.training).length > 0;
    assert.equal(c.modelClass, isModule ? 'models.resnet.ResNet' : 'state_dict', name);
    if (isModule) {
      assert.deepEqual(Object.fromEntries(c.moduleTraining), m.training, `${name}: training flags`);
      const params = m.tensors.filter((t) => t.requires_grad !== null);
      assert.equal(params.length, 56, name);
      assert.deepEqual(
        Object.fromEntries(c.requiresGrad),
        Object.fromEntries(params.map((t) => [t.name, t.requires_grad])),
        `${name}: requires_grad`,
      );
    } else {
      assert.equal(c.training, null);
      assert.equal(c.requiresGrad.size, 0);
    }
    if (m.acc === null) assert.equal(c.acc, null, name);
    else {
      assert.ok(c.acc, name);
      assert.equal(c.acc.value, m.acc.value, `${name}: acc`);
      assert.equal(c.acc.dtype, m.acc.dtype, `${name}: acc dtype`);
      assert.equal(c.acc.kind, m.acc.dtype === null ? 'number' : m.acc.dtype === 'int64' ? 'int-tensor' : 'float-tensor', name);
    }
    assert.equal(c.epoch, m.epoch, `${name}: epoch`);
    assert.equal(c.strippedPrefix, m.prefix === 'module.', name);
    assert.deepEqual(c.locations, name.startsWith('cuda-tagged') ? ['cpu', 'cuda:0'] : ['cpu'], `${name}: locations`);
    assert.equal(c.wmnn, null);
    assert.deepEqual(c.problems, []);
  }
});

test('the flags that differ between files come out as written', () => {
  const untrained = readCheckpoint(join(dir, 'untrained-zip.t7'));
  assert.equal(untrained.training, true);
  const trained = readCheckpoint(join(dir, 'trained-legacy.t7'));
  assert.equal(trained.training, false);
  assert.equal(trained.tensors.get('bn1.num_batches_tracked')?.data[0], 3n);
  const ftll = readCheckpoint(join(dir, 'ftll-zip.t7'));
  const frozen = [...ftll.requiresGrad].filter(([, rg]) => !rg).map(([k]) => k);
  assert.equal(frozen.length, 54);
  assert.ok(frozen.every((k) => !k.startsWith('linear.')));
  const dp = readCheckpoint(join(dir, 'dataparallel-zip.t7'));
  assert.match(dp.warnings.join('\n'), /DataParallel wrapper/);
  assert.ok(dp.globals.includes('torch.nn.parallel.data_parallel.DataParallel'));
  assert.deepEqual(untrained.topKeys, ['net', 'acc', 'epoch']);
  assert.deepEqual([...untrained.globals].sort(), [
    '__builtin__.set',
    'collections.OrderedDict',
    'models.resnet.PreActBlock',
    'models.resnet.ResNet',
    'torch.FloatStorage',
    'torch.LongStorage',
    'torch._utils._rebuild_parameter',
    'torch._utils._rebuild_tensor_v2',
    'torch.nn.modules.batchnorm.BatchNorm2d',
    'torch.nn.modules.container.Sequential',
    'torch.nn.modules.conv.Conv2d',
    'torch.nn.modules.linear.Linear',
  ]);
});

test('checkFits: a 100-class checkpoint given to a 10-class model is refused, naming the mismatches', () => {
  const c100 = readCheckpoint(join(dir, 'c100-zip.t7'));
  const ten = stateEntries(resnet18Graph(10));
  assert.doesNotThrow(() => checkFits(c100.tensors, stateEntries(resnet18Graph(100))));
  assert.throws(
    () => checkFits(c100.tensors, ten, 'c100-zip.t7'),
    (e: unknown) =>
      e instanceof CheckpointError &&
      e.message ===
        'c100-zip.t7: checkpoint does not fit the model: linear.weight has shape (100, 512), expected (10, 512); linear.bias has shape (100,), expected (10,)',
  );
  const renamed = new Map([...c100.tensors].map(([k, t]) => [k === 'bn1.weight' ? 'bn1.gamma' : k, t]));
  assert.throws(() => checkFits(renamed, stateEntries(resnet18Graph(100))), /missing bn1\.weight; unexpected bn1\.gamma$/);
  const tiny = readCheckpoint(join(dir, 'tiny-zip.t7'));
  assert.throws(() => checkFits(tiny.tensors, ten), /conv1\.weight has shape \(2,\), expected \(64, 3, 3, 3\);.*; and \d+ more$/);
});

test('model checks name the field that differs from ResNet-18 (format §10.2)', () => {
  const cases: [string, string][] = [
    ['bad-stride.t7', 'bad-stride.t7: layer2.0.conv1.stride is (1, 1); a ResNet18 has (2, 2)'],
    ['bad-eps.t7', 'bad-eps.t7: bn1.eps is 0.001; a ResNet18 has 1e-05'],
    ['no-shortcut.t7', 'no-shortcut.t7: layer3.0.shortcut is missing; a ResNet18 has a torch.nn.modules.container.Sequential there'],
    ['basic-block.t7', 'basic-block.t7: layer1.1 is models.resnet.BasicBlock; a ResNet18 has models.resnet.PreActBlock'],
  ];
  for (const [file, message] of cases) {
    assert.throws(
      () => readCheckpoint(join(dir, file)),
      (e: unknown) => e instanceof CheckpointError && e.message === message,
      file,
    );
    const lenient = readCheckpoint(join(dir, file), { strict: false });
    assert.equal(lenient.problems.length, 1, file);
    assert.equal(lenient.tensors.size, file === 'no-shortcut.t7' ? 106 : 107, file);
  }
});
