// Writing checkpoints the original loads: `torch.save({'net': model, 'acc': acc, 'epoch': epoch})`
// as torch 1.13 writes it, byte for byte (docs/checkpoint-format.md §11), with wmnn's resume
// state under one extra key when given; and weights-only exports (a state_dict .pt, safetensors).

import { basename } from 'node:path';
import type { Tensor } from '../tensor.js';
import { writeFileAtomic } from './atomic.js';
import { checkFits } from './fits.js';
import {
  BN_EPS,
  BN_MOMENTUM,
  MODULE_CLASS,
  RESNET_IN_PLANES,
  numClassesOf,
  ownEntries,
  resnet18Graph,
  stateEntries,
  type ModuleSpec,
} from './resnet-graph.js';
import { TorchPickler, type Item, type PickledStorage } from './torch-pickler.js';
import { WMNN_KEY, encodeExtra, type WmnnExtra } from './wmnn-extra.js';
import { torchZipChunks, type ZipRecord } from './zip.js';

export type NamedTensors = ReadonlyMap<string, Tensor> | readonly (readonly [string, Tensor])[];

export interface CheckpointContent {
  /** Every parameter and buffer of the ResNet-18, by state_dict name. */
  tensors: NamedTensors;
  /** requires_grad per parameter; parameters not listed get True (PyTorch's default). */
  requiresGrad?: ReadonlyMap<string, boolean>;
  /** The `training` flag of every module (False after evaluation, as the original saves). */
  training: boolean;
  /** Checked against `linear.weight` when given. */
  numClasses?: number;
  /** Test accuracy in percent; stored as a 0-dim float32 tensor like the original's. */
  acc: number;
  epoch: number;
  /** wmnn's resume state, under the extra key 'wmnn'. */
  extra?: WmnnExtra;
}

/** The zip folder torch derives from a path: the base name without its last extension. */
export function archiveNameOf(path: string): string {
  const base = basename(path);
  const dot = base.lastIndexOf('.');
  const name = dot >= 0 ? base.slice(0, dot) : base;
  if (name === '') throw new Error(`${base}: a checkpoint name needs something before its extension`);
  return name;
}

function asMap(tensors: NamedTensors): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const [k, t] of tensors instanceof Map ? tensors.entries() : (tensors as readonly (readonly [string, Tensor])[])) {
    if (m.has(k)) throw new Error(`tensor '${k}' given twice`);
    m.set(k, t);
  }
  return m;
}

/** Records of a torch zip: data.pkl, the storages in string order of their keys, version. */
function archiveRecords(prefix: string, pickle: Uint8Array, storages: readonly PickledStorage[]): ZipRecord[] {
  const sorted = [...storages].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return [
    { name: `${prefix}/data.pkl`, data: pickle },
    ...sorted.map((s) => ({ name: `${prefix}/data/${s.key}`, data: s.data })),
    { name: `${prefix}/version`, data: new Uint8Array(Buffer.from('3\n', 'latin1')) },
  ];
}

/** The pickle of `{'net': ResNet, 'acc': tensor, 'epoch': int[, 'wmnn': {...}]}` and its storages. */
export function encodeCheckpoint(c: CheckpointContent): { pickle: Uint8Array; storages: PickledStorage[] } {
  const tensors = asMap(c.tensors);
  const numClasses = numClassesOf(new Map([...tensors].map(([k, t]) => [k, t.shape])));
  if (c.numClasses !== undefined && c.numClasses !== numClasses) {
    throw new Error(`numClasses is ${c.numClasses} but linear.weight has ${numClasses} rows`);
  }
  const graph = resnet18Graph(numClasses);
  const entries = stateEntries(graph);
  checkFits(tensors, entries);
  const params = new Set(entries.filter((e) => e.kind === 'parameter').map((e) => e.name));
  for (const k of c.requiresGrad?.keys() ?? []) {
    if (!params.has(k)) throw new Error(`requiresGrad names '${k}', which is not a parameter`);
  }
  if (!Number.isSafeInteger(c.epoch)) throw new Error(`epoch ${c.epoch} is not an integer`);

  const p = new TorchPickler();
  const moduleWriter = new ModuleWriter(p, tensors, c.requiresGrad ?? new Map(), c.training);
  const top: Item[] = [
    { key: 'net', value: () => moduleWriter.module(graph, '') },
    { key: 'acc', value: () => p.tensor({ dtype: 'float32', shape: [], data: Float32Array.of(c.acc) }) },
    { key: 'epoch', value: () => p.int(c.epoch) },
  ];
  if (c.extra !== undefined) {
    const extra = c.extra;
    top.push({ key: WMNN_KEY, value: () => encodeExtra(p, extra) });
  }
  p.dict(top);
  return { pickle: p.finish(), storages: p.storages };
}

/** Emits the module tree with the instance dicts torch 1.13 pickles (docs/checkpoint-format.md §8.2), in its key order. */
class ModuleWriter {
  constructor(
    private readonly p: TorchPickler,
    private readonly tensors: ReadonlyMap<string, Tensor>,
    private readonly requiresGrad: ReadonlyMap<string, boolean>,
    private readonly training: boolean,
  ) {}

  private tensor(name: string): Tensor {
    const t = this.tensors.get(name);
    if (t === undefined) throw new Error(`no tensor '${name}'`);
    return t;
  }

  module(spec: ModuleSpec, path: string): void {
    const p = this.p;
    const full = (n: string): string => (path ? `${path}.${n}` : n);
    const own = ownEntries(spec);
    const params: Item[] = own.params.map((e) => ({
      key: e.name,
      value: () => p.parameter(this.tensor(full(e.name)), this.requiresGrad.get(full(e.name)) ?? true),
    }));
    if (spec.kind === 'Conv2d') params.push({ key: 'bias', value: () => p.none() });
    const buffers: Item[] = own.buffers.map((e) => ({ key: e.name, value: () => p.tensor(this.tensor(full(e.name))) }));
    const children: Item[] =
      'children' in spec
        ? spec.children.map(([name, child]) => ({
            key: name,
            // Sequential names its children str(index): new string objects each time.
            fresh: spec.kind === 'Sequential',
            value: () => this.module(child, full(name)),
          }))
        : [];
    const emptyHooks = (): void => p.orderedDict([]);
    const state: Item[] = [
      { key: 'training', value: () => p.bool(this.training) },
      { key: '_parameters', value: () => p.orderedDict(params) },
      { key: '_buffers', value: () => p.orderedDict(buffers) },
      { key: '_non_persistent_buffers_set', value: () => p.emptySet() },
      { key: '_backward_hooks', value: emptyHooks },
      { key: '_is_full_backward_hook', value: () => p.none() },
      { key: '_forward_hooks', value: emptyHooks },
      { key: '_forward_pre_hooks', value: emptyHooks },
      { key: '_state_dict_hooks', value: emptyHooks },
      { key: '_load_state_dict_pre_hooks', value: emptyHooks },
      { key: '_load_state_dict_post_hooks', value: emptyHooks },
      { key: '_modules', value: () => p.orderedDict(children) },
      ...this.classAttributes(spec),
    ];
    const [module, cls] = MODULE_CLASS[spec.kind];
    p.object(module, cls, state);
  }

  private classAttributes(spec: ModuleSpec): Item[] {
    const p = this.p;
    const int = (key: string, n: number): Item => ({ key, value: () => p.int(n) });
    const ints = (key: string, ns: number[]): Item => ({ key, value: () => p.intTuple(ns) });
    switch (spec.kind) {
      case 'ResNet':
        return [int('in_planes', RESNET_IN_PLANES)];
      case 'Conv2d':
        return [
          int('in_channels', spec.inChannels),
          int('out_channels', spec.outChannels),
          ints('kernel_size', [spec.kernel, spec.kernel]),
          ints('stride', [spec.stride, spec.stride]),
          ints('padding', [spec.padding, spec.padding]),
          ints('dilation', [1, 1]),
          { key: 'transposed', value: () => p.bool(false) },
          ints('output_padding', [0, 0]),
          int('groups', 1),
          { key: 'padding_mode', value: () => p.str('zeros') },
          ints('_reversed_padding_repeated_twice', [spec.padding, spec.padding, spec.padding, spec.padding]),
        ];
      case 'BatchNorm2d':
        return [
          int('num_features', spec.features),
          { key: 'eps', value: () => p.float(BN_EPS) },
          { key: 'momentum', value: () => p.float(BN_MOMENTUM) },
          { key: 'affine', value: () => p.bool(true) },
          { key: 'track_running_stats', value: () => p.bool(true) },
        ];
      case 'Linear':
        return [int('in_features', spec.inFeatures), int('out_features', spec.outFeatures)];
      default:
        return [];
    }
  }
}

/**
 * Write `{'net': ResNet-18, 'acc', 'epoch'}` exactly as torch 1.13's torch.save does, atomically.
 * The zip folder name comes from `path` (model.t7 -> model/), as torch's does.
 */
export function writeCheckpoint(path: string, content: CheckpointContent): void {
  const prefix = archiveNameOf(path);
  const { pickle, storages } = encodeCheckpoint(content);
  writeFileAtomic(path, torchZipChunks(archiveRecords(prefix, pickle, storages)).chunks);
}

/**
 * A weights-only `.pt`: an OrderedDict of plain tensors in torch's zip format, which
 * `torch.load(path, weights_only=True)` accepts and `model.load_state_dict` takes.
 */
export function writeStateDict(path: string, tensors: NamedTensors): void {
  const prefix = archiveNameOf(path);
  const p = new TorchPickler();
  p.orderedDict([...asMap(tensors)].map(([k, t]) => ({ key: k, value: () => p.tensor(t) })));
  const pickle = p.finish();
  writeFileAtomic(path, torchZipChunks(archiveRecords(prefix, pickle, p.storages)).chunks);
}
