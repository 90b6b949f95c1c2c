// The module graph of the original's model, `ResNet18()` = ResNet(PreActBlock, [2, 2, 2, 2]), as
// torch pickles it (docs/checkpoint-format.md §8.2-§8.4): which modules exist, their classes
// and hyper-parameters, and the parameter/buffer names in state_dict order. The writer pickles
// this tree; the reader checks a file's modules against it. Any class count.

import { shapeString, type DType } from '../tensor.js';

export interface ConvSpec {
  kind: 'Conv2d';
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  padding: number;
}

export interface BatchNormSpec {
  kind: 'BatchNorm2d';
  features: number;
}

export interface LinearSpec {
  kind: 'Linear';
  inFeatures: number;
  outFeatures: number;
}

export interface ContainerSpec {
  kind: 'ResNet' | 'PreActBlock' | 'Sequential';
  children: [string, ModuleSpec][];
}

export type ModuleSpec = ConvSpec | BatchNormSpec | LinearSpec | ContainerSpec;

/** Pickled class of each kind: [module path, class name]. */
export const MODULE_CLASS: Readonly<Record<ModuleSpec['kind'], readonly [string, string]>> = {
  ResNet: ['models.resnet', 'ResNet'],
  PreActBlock: ['models.resnet', 'PreActBlock'],
  Sequential: ['torch.nn.modules.container', 'Sequential'],
  Conv2d: ['torch.nn.modules.conv', 'Conv2d'],
  BatchNorm2d: ['torch.nn.modules.batchnorm', 'BatchNorm2d'],
  Linear: ['torch.nn.modules.linear', 'Linear'],
};

export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;
/** ResNet's `in_planes` after construction. */
export const RESNET_IN_PLANES = 512;
const WIDTHS = [64, 128, 256, 512] as const;
const BLOCKS_PER_LAYER = 2;

const conv = (inChannels: number, outChannels: number, kernel: number, stride: number): ConvSpec => ({
  kind: 'Conv2d',
  inChannels,
  outChannels,
  kernel,
  stride,
  padding: kernel === 3 ? 1 : 0,
});
const bn = (features: number): BatchNormSpec => ({ kind: 'BatchNorm2d', features });

function block(inPlanes: number, planes: number, stride: number): ContainerSpec {
  const children: [string, ModuleSpec][] = [
    ['bn1', bn(inPlanes)],
    ['conv1', conv(inPlanes, planes, 3, stride)],
    ['bn2', bn(planes)],
    ['conv2', conv(planes, planes, 3, 1)],
  ];
  // The original adds a 1x1 projection only where the shape changes; elsewhere the shortcut is x.
  if (stride !== 1 || inPlanes !== planes) {
    children.push(['shortcut', { kind: 'Sequential', children: [['0', conv(inPlanes, planes, 1, stride)]] }]);
  }
  return { kind: 'PreActBlock', children };
}

/** The whole ResNet-18 tree for `numClasses` outputs. */
export function resnet18Graph(numClasses: number): ContainerSpec {
  if (!Number.isSafeInteger(numClasses) || numClasses < 1) throw new Error(`invalid class count ${numClasses}`);
  const children: [string, ModuleSpec][] = [
    ['conv1', conv(3, 64, 3, 1)],
    ['bn1', bn(64)],
  ];
  let inPlanes = 64;
  WIDTHS.forEach((planes, i) => {
    const blocks: [string, ModuleSpec][] = [];
    for (let b = 0; b < BLOCKS_PER_LAYER; b++) {
      blocks.push([String(b), block(inPlanes, planes, b === 0 && i > 0 ? 2 : 1)]);
      inPlanes = planes;
    }
    children.push([`layer${i + 1}`, { kind: 'Sequential', children: blocks }]);
  });
  children.push(['linear', { kind: 'Linear', inFeatures: 512, outFeatures: numClasses }]);
  return { kind: 'ResNet', children };
}

export interface StateEntry {
  name: string;
  shape: number[];
  dtype: DType;
  kind: 'parameter' | 'buffer';
}

/** A module's own parameters and buffers, in registration order. */
export function ownEntries(spec: ModuleSpec): { params: StateEntry[]; buffers: StateEntry[] } {
  const p = (name: string, shape: number[]): StateEntry => ({ name, shape, dtype: 'float32', kind: 'parameter' });
  const b = (name: string, shape: number[], dtype: DType = 'float32'): StateEntry => ({ name, shape, dtype, kind: 'buffer' });
  switch (spec.kind) {
    case 'Conv2d':
      return { params: [p('weight', [spec.outChannels, spec.inChannels, spec.kernel, spec.kernel])], buffers: [] };
    case 'BatchNorm2d':
      return {
        params: [p('weight', [spec.features]), p('bias', [spec.features])],
        buffers: [b('running_mean', [spec.features]), b('running_var', [spec.features]), b('num_batches_tracked', [], 'int64')],
      };
    case 'Linear':
      return { params: [p('weight', [spec.outFeatures, spec.inFeatures]), p('bias', [spec.outFeatures])], buffers: [] };
    default:
      return { params: [], buffers: [] };
  }
}

/** Every parameter and buffer with its full name, in PyTorch's state_dict order. */
export function stateEntries(spec: ModuleSpec, prefix = ''): StateEntry[] {
  const own = ownEntries(spec);
  const out = [...own.params, ...own.buffers].map((e) => ({ ...e, name: prefix + e.name }));
  if ('children' in spec) {
    for (const [name, child] of spec.children) out.push(...stateEntries(child, `${prefix}${name}.`));
  }
  return out;
}

/** Each module of the tree with its dotted path ('' for the root), parents first. */
export function modulePaths(spec: ModuleSpec, prefix = ''): [string, ModuleSpec][] {
  const out: [string, ModuleSpec][] = [[prefix, spec]];
  if ('children' in spec) {
    for (const [name, child] of spec.children) out.push(...modulePaths(child, prefix ? `${prefix}.${name}` : name));
  }
  return out;
}

/** The class count that `linear.weight` implies, or an error that says why there is none. */
export function numClassesOf(shapes: ReadonlyMap<string, readonly number[]>): number {
  const w = shapes.get('linear.weight');
  if (w === undefined) throw new Error("no 'linear.weight' tensor: not a ResNet-18 state");
  if (w.length !== 2 || w[1] !== 512 || !((w[0] as number) >= 1))
    throw new Error(`linear.weight has shape ${shapeString(w)}, expected (n, 512)`);
  return w[0] as number;
}
