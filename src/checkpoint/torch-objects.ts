// The objects a torch checkpoint pickle may build, and the allowlist that builds them
// (docs/checkpoint-format.md §7, §9). Everything here is plain data: a storage is a key into the container,
// a tensor is a view description over a storage, a module is a class name with its attribute dict.

import type { DType } from '../tensor.js';
import {
  PickleContentError,
  PickleValueError,
  PyDict,
  PyGlobal,
  PyObject,
  PyTuple,
  asInt,
  asIntTuple,
  typeName,
  type Allowlist,
  type GlobalHandler,
  type HandlerContext,
  type PyValue,
} from './pickle-values.js';
import { quote } from '../quote.js';
import { PYTHON_GLOBALS, combineAllowlists } from './python-globals.js';
import { viewProblem } from './strided.js';

/** torch storage class names and their dtypes (docs/checkpoint-format.md §7.1). */
export const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** The storage class of each dtype, for writers. */
export const STORAGE_CLASS: Readonly<Record<DType, string>> = Object.fromEntries(
  Object.entries(STORAGE_DTYPES).map(([cls, d]) => [d, cls]),
) as Record<DType, string>;

/** One storage of the container; its bytes are looked up by `key` once the pickle is read. */
export class StorageRef extends PyObject {
  readonly typeName = 'torch.Storage';
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly storageClass: string,
    readonly location: string,
    readonly numel: number,
  ) {
    super();
  }
}

/** A tensor: a view (offset, size, stride, in elements) of a storage. */
export class TensorRef extends PyObject {
  readonly typeName = 'torch.Tensor';
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
  ) {
    super();
  }
}

export class ParameterRef extends PyObject {
  readonly typeName = 'torch.nn.Parameter';
  constructor(
    readonly tensor: TensorRef,
    readonly requiresGrad: boolean,
  ) {
    super();
  }
}

/** `torch.device(...)`: only ever information (DataParallel's src_device_obj). */
export class DeviceRef extends PyObject {
  readonly typeName = 'torch.device';
  constructor(readonly spec: string) {
    super();
  }
}

/** An nn.Module instance: NEWOBJ gives the class, BUILD its `__dict__`. */
export class ModuleNode extends PyObject {
  readonly typeName: string;
  attrs: PyDict | null = null;

  constructor(readonly className: string) {
    super();
    this.typeName = className;
  }

  override setState(state: PyValue): void {
    if (!(state instanceof PyDict)) throw new PickleValueError(`BUILD of ${this.className} with ${typeName(state)}`);
    if (this.attrs !== null) throw new PickleValueError(`${this.className} built twice`);
    this.attrs = state;
  }
}

/** The nn.Module classes a checkpoint may name (module path, class). */
export const MODULE_CLASSES: readonly (readonly [string, string])[] = [
  ['models.resnet', 'ResNet'],
  ['models.resnet', 'PreActBlock'],
  ['models.resnet', 'BasicBlock'],
  ['models.resnet', 'Bottleneck'],
  ['models.resnet', 'PreActBottleneck'],
  ['torch.nn.modules.conv', 'Conv2d'],
  ['torch.nn.modules.batchnorm', 'BatchNorm2d'],
  ['torch.nn.modules.container', 'Sequential'],
  ['torch.nn.modules.linear', 'Linear'],
  ['torch.nn.parallel.data_parallel', 'DataParallel'],
];

function isEmptyMapping(v: PyValue | undefined): boolean {
  return v === undefined || v === null || (v instanceof PyDict && v.size === 0);
}

function rebuildTensorV2(args: readonly PyValue[], ctx: HandlerContext): PyValue {
  // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.length !== 6 && args.length !== 7) throw new PickleValueError(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
  const [, , , , rg, hooks, metadata] = args;
  if (typeof rg !== 'boolean') throw new PickleValueError('_rebuild_tensor_v2: requires_grad is not a bool');
  if (!isEmptyMapping(hooks ?? null)) throw new PickleValueError('_rebuild_tensor_v2: tensor has backward hooks');
  if (!isEmptyMapping(metadata)) throw new PickleValueError('_rebuild_tensor_v2: tensor metadata is not empty');
  return tensorView(args, rg, ctx);
}

function tensorView(args: readonly PyValue[], requiresGrad: boolean, ctx: HandlerContext): TensorRef {
  const [storage, offsetV, sizeV, strideV] = args;
  // A memoized size or stride tuple may be used by many tensors: reading it is work each time.
  const dims = (sizeV instanceof PyTuple ? sizeV.items.length : 0) + (strideV instanceof PyTuple ? strideV.items.length : 0);
  ctx.budget.step(dims);
  ctx.budget.build(dims);
  if (!(storage instanceof StorageRef)) throw new PickleValueError(`tensor storage is ${typeName(storage ?? null)}`);
  const offset = asInt(offsetV ?? null);
  const size = asIntTuple(sizeV ?? null);
  const stride = asIntTuple(strideV ?? null);
  if (offset === undefined || size === undefined || stride === undefined) {
    throw new PickleValueError('tensor offset, size or stride is not an int / tuple of ints');
  }
  const problem = viewProblem(offset, size, stride, storage.numel);
  if (problem !== null) throw new PickleContentError(`tensor overruns storage ${quote(storage.key)} (${problem})`);
  return new TensorRef(storage, offset, size, stride, requiresGrad);
}

function rebuildParameter(args: readonly PyValue[]): PyValue {
  // (tensor, requires_grad, backward_hooks) or, with state, (..., state)
  const [t, rg, hooks, state] = args;
  if (args.length !== 3 && args.length !== 4) throw new PickleValueError(`_rebuild_parameter takes 3 arguments, got ${args.length}`);
  if (!(t instanceof TensorRef)) throw new PickleValueError(`parameter data is ${typeName(t ?? null)}`);
  if (typeof rg !== 'boolean') throw new PickleValueError('parameter requires_grad is not a bool');
  if (!isEmptyMapping(hooks)) throw new PickleValueError('parameter has backward hooks');
  if (!isEmptyMapping(state)) throw new PickleValueError('parameter carries Python attributes');
  return new ParameterRef(t, rg);
}

// 0.4.x: Parameter(tensor[, requires_grad=True]).
function parameterCtor(args: readonly PyValue[]): PyValue {
  const [t, rg] = args;
  if (!(t instanceof TensorRef) || args.length > 2 || (rg !== undefined && typeof rg !== 'boolean')) {
    throw new PickleValueError('Parameter(tensor, requires_grad) expected');
  }
  return new ParameterRef(t, rg ?? true);
}

function device(args: readonly PyValue[]): PyValue {
  const [type, index] = args;
  if (typeof type !== 'string' || args.length > 2 || (index !== undefined && asInt(index) === undefined)) {
    throw new PickleValueError('torch.device(str[, int]) expected');
  }
  return new DeviceRef(index === undefined ? type : `${type}:${String(index)}`);
}

const valueOnly: GlobalHandler = {};

function moduleClass(qualified: string): GlobalHandler {
  return {
    newObject(args) {
      if (args.length !== 0) throw new PickleValueError(`${qualified}.__new__ takes no arguments here`);
      return new ModuleNode(qualified);
    },
  };
}

/** Everything a torch checkpoint (zip or legacy, 0.4.x to 2.x) may name. */
export const TORCH_GLOBALS: Allowlist = combineAllowlists(
  PYTHON_GLOBALS,
  new Map<string, GlobalHandler>([
    ['torch._utils _rebuild_tensor_v2', { call: rebuildTensorV2 }],
    [
      'torch._utils _rebuild_tensor',
      {
        call(args, ctx) {
          if (args.length !== 4) throw new PickleValueError('_rebuild_tensor takes 4 arguments');
          return tensorView(args, false, ctx);
        },
      },
    ],
    ['torch._utils _rebuild_parameter', { call: rebuildParameter }],
    ['torch._utils _rebuild_parameter_with_state', { call: rebuildParameter }],
    ['torch.nn.parameter Parameter', { call: parameterCtor }],
    ['torch device', { call: device }],
    [
      'torch.nn.backends.thnn _get_thnn_function_backend',
      {
        call(args) {
          if (args.length !== 0) throw new PickleValueError('_get_thnn_function_backend takes no arguments');
          return null;
        },
      },
    ],
    ...Object.keys(STORAGE_DTYPES).flatMap((cls): [string, GlobalHandler][] => [
      [`torch ${cls}`, valueOnly],
      [`torch.cuda ${cls}`, valueOnly],
    ]),
    ...MODULE_CLASSES.map(([m, c]): [string, GlobalHandler] => [`${m} ${c}`, moduleClass(`${m}.${c}`)]),
  ]),
);

/** A storage class global from a persistent id, as its dtype. */
export function storageDType(v: PyValue): { dtype: DType; cls: string } {
  if (v instanceof PyGlobal && (v.module === 'torch' || v.module === 'torch.cuda')) {
    const dtype = STORAGE_DTYPES[v.name];
    if (dtype !== undefined) return { dtype, cls: v.name };
  }
  throw new PickleValueError(`persistent id names ${typeName(v)}, not a storage class`);
}

/** Parse the fields common to the zip (5) and legacy (6) storage ids. */
export function storageIdFields(items: readonly PyValue[]): { key: string; dtype: DType; cls: string; location: string; numel: number } {
  const [tag, clsV, key, location, numelV] = items;
  if (tag !== 'storage')
    throw new PickleValueError(`persistent id of kind ${typeof tag === 'string' ? `${quote(tag)}` : typeName(tag ?? null)}`);
  const { dtype, cls } = storageDType(clsV ?? null);
  const numel = asInt(numelV ?? null);
  if (typeof key !== 'string' || typeof location !== 'string' || numel === undefined || numel < 0) {
    throw new PickleValueError('storage id is not (storage, class, key, location, numel)');
  }
  return { key, dtype, cls, location, numel };
}

/**
 * Keeps one StorageRef per key and checks that every use agrees (docs/checkpoint-format.md §7.2: same dtype each time).
 * `onNew` lets a container check the storage as soon as it is declared.
 */
export class StorageTable {
  readonly byKey = new Map<string, StorageRef>();

  get(f: { key: string; dtype: DType; cls: string; location: string; numel: number }): StorageRef {
    const seen = this.byKey.get(f.key);
    if (seen !== undefined) {
      if (seen.dtype !== f.dtype) throw new PickleContentError(`storage ${quote(f.key)} used as ${seen.storageClass} and ${f.cls}`);
      if (seen.numel !== f.numel)
        throw new PickleContentError(`storage ${quote(f.key)} declared with ${seen.numel} and ${f.numel} elements`);
      return seen;
    }
    const s = new StorageRef(f.key, f.dtype, f.cls, f.location, f.numel);
    this.byKey.set(f.key, s);
    return s;
  }
}
