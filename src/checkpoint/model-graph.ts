// Finding the model in the unpickled object graph (docs/checkpoint-format.md §10.1): which value
// is the model, its named tensors in state_dict order with their flags, and acc and epoch.

import { excerpt, quote } from '../quote.js';
import { numel, shapeString, type DType, type Tensor } from '../tensor.js';
import type { ReadBudget } from './budget.js';
import type { Findings } from './errors.js';
import type { TensorMaterializer } from './materialize.js';
import { PyDict, PyFloat, PySet, asInt, reprValue, typeName, type PyValue } from './pickle-values.js';
import { ModuleNode, ParameterRef, TensorRef } from './torch-objects.js';

/** Deeper module trees are refused; ResNet-18 is 4 levels deep. */
const MAX_MODULE_DEPTH = 32;
const DATA_PARALLEL = 'torch.nn.parallel.data_parallel.DataParallel';

export type AccKind = 'float-tensor' | 'int-tensor' | 'number';

export interface CheckpointAcc {
  value: number;
  /** How the file stored it: a 0-dim float tensor (torch >= 1.5), an int64 tensor (0.4.x), or a Python number. */
  kind: AccKind;
  dtype: DType | null;
}

/** Where the model is: the value, the top-level key that holds it, and how messages name that place. */
export interface ModelPlace {
  model: PyValue;
  /** 'net', 'state_dict', or null when the model is the top level itself. */
  key: string | null;
  where: string;
}

/** The model value of a checkpoint's top level, with a DataParallel wrapper removed (and a warning). */
export function findModel(root: PyValue, warnings: Findings): ModelPlace {
  let key: string | null = null;
  if (root instanceof PyDict && root.has('net')) key = 'net';
  else if (root instanceof PyDict && root.has('state_dict')) key = 'state_dict';
  let model = key === null ? root : ((root as PyDict).get(key) ?? null);
  const where = key === null ? 'the file' : `'${key}'`;
  if (model instanceof ModuleNode && model.className === DATA_PARALLEL) {
    const inner = model.attrs?.get('_modules');
    const wrapped = inner instanceof PyDict ? inner.get('module') : undefined;
    if (!(wrapped instanceof ModuleNode)) throw new Error(`${where} is a DataParallel without a module`);
    warnings.push(`${where} is a DataParallel wrapper; using the module inside it`);
    model = wrapped;
  }
  return { model, key, where };
}

/** True for a non-empty dict whose every value is a tensor or Parameter. */
export function isStateDict(v: PyValue): v is PyDict {
  if (!(v instanceof PyDict) || v.size === 0) return false;
  for (const x of v.values) if (!(x instanceof TensorRef || x instanceof ParameterRef)) return false;
  return true;
}

/**
 * What a walk of the model collects. Every dict entry visited is a step of the read's budget (one
 * dict may be shared by many modules), and every module and tensor kept is memory held.
 */
export class ModelGraph {
  readonly tensors = new Map<string, Tensor>();
  readonly requiresGrad = new Map<string, boolean>();
  readonly moduleTraining = new Map<string, boolean>();
  readonly modules = new Map<string, ModuleNode>();
  private readonly seenNodes = new Set<ModuleNode>();

  constructor(
    private readonly materialize: TensorMaterializer,
    private readonly budget: ReadBudget,
    readonly problems: Findings,
  ) {}

  private add(name: string, t: TensorRef, requiresGrad: boolean | null): void {
    if (this.tensors.has(name)) throw new Error(`tensor ${quote(name)} appears twice`);
    this.budget.build(2);
    this.tensors.set(name, this.materialize.tensor(t, name));
    if (requiresGrad !== null) this.requiresGrad.set(name, requiresGrad);
  }

  /** A module tree: parameters, persistent buffers, then children, depth first (state_dict order). */
  walk(node: ModuleNode, path = '', depth = 0): void {
    const label = path ? excerpt(path) : 'net';
    if (depth > MAX_MODULE_DEPTH) throw new Error(`modules nested too deeply at ${label}`);
    if (this.modules.has(path) || this.seenNodes.has(node)) throw new Error(`module ${label} appears twice`);
    this.budget.build(2);
    this.modules.set(path, node);
    this.seenNodes.add(node);
    const attrs = node.attrs;
    if (attrs === null) throw new Error(`module ${label} (${node.className}) has no state`);
    const training = attrs.get('training');
    if (typeof training === 'boolean') this.moduleTraining.set(path, training);
    else this.problems.push(`${label}.training is ${reprValue(training)}, not a bool`);
    const join = (k: string): string => (path ? `${path}.${k}` : k);
    const params = mapping(attrs, '_parameters', label);
    const buffers = mapping(attrs, '_buffers', label);
    const children = mapping(attrs, '_modules', label);
    const np = attrs.get('_non_persistent_buffers_set');
    const nonPersistent = np instanceof PySet ? new Set(np.items) : new Set<PyValue>();
    this.budget.step(params.size + buffers.size + children.size + nonPersistent.size);
    for (const [k, v] of params.entries()) {
      const key = strKey(k, `${label}._parameters`);
      if (v === null) continue;
      if (v instanceof ParameterRef) this.add(join(key), v.tensor, v.requiresGrad);
      else if (v instanceof TensorRef) this.add(join(key), v, v.requiresGrad);
      else throw new Error(`parameter ${excerpt(join(key))} is ${typeName(v)}`);
    }
    for (const [k, v] of buffers.entries()) {
      const key = strKey(k, `${label}._buffers`);
      if (v === null || nonPersistent.has(key)) continue;
      if (!(v instanceof TensorRef)) throw new Error(`buffer ${excerpt(join(key))} is ${typeName(v)}`);
      this.add(join(key), v, null);
    }
    for (const [k, v] of children.entries()) {
      const key = strKey(k, `${label}._modules`);
      // torch refuses such names too; dotted paths must split back into module names.
      if (key.includes('.') || key === '') throw new Error(`module name ${quote(key)} in ${label} is empty or has a dot`);
      if (v === null) continue;
      if (!(v instanceof ModuleNode)) throw new Error(`module ${excerpt(join(key))} is ${typeName(v)}`);
      this.walk(v, join(key), depth + 1);
    }
  }

  /** A state_dict: an (Ordered)dict of tensors. Returns whether DataParallel's `module.` prefix was removed. */
  stateDict(d: PyDict, label: string): boolean {
    const entries: [string, TensorRef, boolean | null][] = [];
    this.budget.step(d.size);
    for (const [k, v] of d.entries()) {
      const key = strKey(k, label);
      if (v instanceof TensorRef) entries.push([key, v, null]);
      else if (v instanceof ParameterRef) entries.push([key, v.tensor, v.requiresGrad]);
      else throw new Error(`${label} holds ${typeName(v)} at ${quote(key)}, not a tensor`);
    }
    const strip = entries.length > 0 && entries.every(([k]) => k.startsWith('module.'));
    for (const [k, t, rg] of entries) this.add(strip ? k.slice('module.'.length) : k, t, rg);
    return strip;
  }
}

function mapping(attrs: PyDict, field: string, label: string): PyDict {
  const v = attrs.get(field);
  if (!(v instanceof PyDict)) throw new Error(`module ${label} has ${field} = ${reprValue(v)}`);
  return v;
}

/** A dict key that must be a str (tensor and module names); `where` names the dict in errors. */
export function strKey(k: PyValue, where: string): string {
  if (typeof k !== 'string') throw new Error(`${where} has a ${typeName(k)} key`);
  return k;
}

function scalarOf(t: Tensor): number {
  const v = t.data[0];
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

const INT_DTYPES: ReadonlySet<DType> = new Set(['int64', 'int32', 'int16', 'int8', 'uint8']);

/** The checkpoint's `acc`, or null (and a problem) when it is not a number. */
export function readAcc(v: PyValue | undefined, materialize: TensorMaterializer, problems: Findings): CheckpointAcc | null {
  if (v === undefined) return null;
  if (v instanceof PyFloat) return { value: v.value, kind: 'number', dtype: null };
  const n = asInt(v);
  if (n !== undefined) return { value: n, kind: 'number', dtype: null };
  if (v instanceof TensorRef && numel(v.size) === 1) {
    const t = materialize.tensor(v, 'acc');
    const d = t.dtype;
    if (d === 'float32' || d === 'float64') return { value: scalarOf(t), kind: 'float-tensor', dtype: d };
    if (INT_DTYPES.has(d)) return { value: scalarOf(t), kind: 'int-tensor', dtype: d };
  }
  problems.push(
    `acc is ${v instanceof TensorRef ? `a ${v.storage.dtype} tensor of shape ${shapeString(v.size)}` : typeName(v)}, not a number`,
  );
  return null;
}

/** The checkpoint's `epoch`, or null (and a problem) when it is not an int. */
export function readEpoch(v: PyValue | undefined, problems: Findings): number | null {
  if (v === undefined) return null;
  const n = typeof v === 'boolean' ? undefined : asInt(v);
  if (n === undefined) {
    problems.push(`epoch is ${typeName(v)}, not an int`);
    return null;
  }
  return n;
}
