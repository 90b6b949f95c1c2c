// Reading a checkpoint: open the container, then find the model in the object graph
// (docs/checkpoint-format.md §10.1), pull out the named tensors in state_dict order with their flags,
// acc, epoch and wmnn's extra state, and check the module hyper-parameters (§10.2).
// Nothing here knows about training; tensors come back as plain `Tensor`s.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { ITEM_SIZE, numel, shapeString, viewAs, type DType, type Tensor } from '../tensor.js';
import { openCheckpoint, type OpenedCheckpoint } from './container.js';
import { PyDict, PyFloat, PySet, PyTuple, asInt, typeName, type PyValue } from './pickle.js';
import { MODULE_CLASS, BN_EPS, BN_MOMENTUM, modulePaths, numClassesOf, resnet18Graph, type ModuleSpec } from './resnet-graph.js';
import { gatherStrided, isContiguous } from './strided.js';
import { ModuleNode, ParameterRef, TORCH_GLOBALS, TensorRef } from './torch-objects.js';
import { WMNN_KEY, WMNN_SCHEMA, type WmnnExtra, type WmnnScalar } from './wmnn-extra.js';

/** Every reading error: one line, starting with the file's base name. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface ReadOptions {
  /**
   * When true (the default), a model that differs from the original's ResNet-18 in class or
   * hyper-parameters (docs/checkpoint-format.md §10.2) is an error. When false, such findings are listed in `problems`.
   */
  strict?: boolean;
  /** Refuse files larger than this (default 1 GiB; a ResNet-18 checkpoint is about 45 MB). */
  maxFileBytes?: number;
}

export type AccKind = 'float-tensor' | 'int-tensor' | 'number';

export interface CheckpointAcc {
  value: number;
  /** How the file stored it: a 0-dim float tensor (torch >= 1.5), an int64 tensor (0.4.x), or a Python number. */
  kind: AccKind;
  dtype: DType | null;
}

export interface Checkpoint {
  file: string;
  container: 'zip' | 'legacy';
  /** The zip's folder name; null for legacy files. */
  archiveName: string | null;
  pickleProtocol: number;
  /** The top-level dict's keys (non-str keys as their Python type); [] when the top level is not a dict. */
  topKeys: string[];
  /** The model's class, e.g. `models.resnet.ResNet`, or `state_dict` when the file holds only tensors. */
  modelClass: string;
  /** Where the model was found: 'net', 'state_dict', or null when it is the top level itself. */
  modelKey: string | null;
  /** Parameters and persistent buffers in PyTorch's state_dict order. Views may share the file's memory. */
  tensors: Map<string, Tensor>;
  /** requires_grad of each Parameter; empty for state_dict files (they hold plain tensors). */
  requiresGrad: Map<string, boolean>;
  /** The `training` flag of every module by dotted path ('' = root). */
  moduleTraining: Map<string, boolean>;
  /** The flag all modules share; 'mixed' when they differ; null without modules. */
  training: boolean | 'mixed' | null;
  acc: CheckpointAcc | null;
  epoch: number | null;
  /** Storage locations as written (`cpu`, `cuda:0`): information only, everything is loaded. */
  locations: string[];
  /** Every global the pickle referenced, as `module.name`. */
  globals: string[];
  /** True when DataParallel's `module.` prefix was stripped from state_dict keys. */
  strippedPrefix: boolean;
  wmnn: WmnnExtra | null;
  warnings: string[];
  /** Model checks that failed (only filled when `strict` is false; strict reading throws instead). */
  problems: string[];
}

const DEFAULT_MAX_FILE = 1 << 30;
const MAX_MODULE_DEPTH = 32;
const MAX_LISTED = 5;

export function readCheckpoint(path: string, opts: ReadOptions = {}): Checkpoint {
  const name = basename(path);
  let bytes: Uint8Array;
  try {
    bytes = readBounded(path, opts.maxFileBytes ?? DEFAULT_MAX_FILE);
  } catch (e) {
    throw new CheckpointError(`${name}: ${oneLine(e)}`);
  }
  return readCheckpointBytes(bytes, name, opts);
}

function readBounded(path: string, max: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > max) throw new Error(`file is ${size} bytes; the limit is ${max}`);
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) throw new Error('file shrank while being read');
      got += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
}

/** Read a checkpoint held in memory; `fileName` prefixes every error. */
export function readCheckpointBytes(bytes: Uint8Array, fileName: string, opts: ReadOptions = {}): Checkpoint {
  try {
    return interpret(openCheckpoint(bytes, TORCH_GLOBALS), fileName, bytes.length, opts.strict ?? true);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${fileName}: ${oneLine(e)}`);
  }
}

/** Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
function floatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const [mant, exp] = x.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (x !== 0 && (e < -4 || e >= 16)) return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  const s = String(x);
  return Number.isInteger(x) ? `${s}.0` : s;
}

/** A Python-ish rendering of small values for messages. */
function repr(v: PyValue | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (v instanceof PyFloat) return floatRepr(v.value);
  if (v instanceof PyTuple) return `(${v.items.map(repr).join(', ')}${v.items.length === 1 ? ',' : ''})`;
  return typeName(v);
}

class Reader {
  readonly tensors = new Map<string, Tensor>();
  readonly requiresGrad = new Map<string, boolean>();
  readonly moduleTraining = new Map<string, boolean>();
  readonly modules = new Map<string, ModuleNode>();
  private readonly seenNodes = new Set<ModuleNode>();
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  private copyBudget: number;

  constructor(private readonly opened: OpenedCheckpoint, fileSize: number) {
    // Strided or unaligned tensors are copied; together they may not need more than the file holds.
    this.copyBudget = 2 * fileSize + (1 << 20);
  }

  materialize(t: TensorRef, what: string): Tensor {
    const s = t.storage;
    const size = ITEM_SIZE[s.dtype];
    const bytes = this.opened.storageBytes(s);
    const n = numel(t.size);
    let dense: Uint8Array;
    if (isContiguous(t.size, t.stride)) {
      dense = bytes.subarray(t.offset * size, (t.offset + n) * size);
      if (dense.byteOffset % size !== 0) this.spend(dense.length, what);
    } else {
      this.spend(n * size, what);
      dense = gatherStrided(bytes, size, t.offset, t.size, t.stride);
    }
    return { dtype: s.dtype, shape: [...t.size], data: viewAs(s.dtype, dense) };
  }

  private spend(n: number, what: string): void {
    this.copyBudget -= n;
    if (this.copyBudget < 0) throw new Error(`${what}: tensors would need more memory than the file holds`);
  }

  add(name: string, t: TensorRef, requiresGrad: boolean | null): void {
    if (this.tensors.has(name)) throw new Error(`tensor '${name}' appears twice`);
    this.tensors.set(name, this.materialize(t, name));
    if (requiresGrad !== null) this.requiresGrad.set(name, requiresGrad);
  }

  walk(node: ModuleNode, path: string, depth: number): void {
    const label = path || 'net';
    if (depth > MAX_MODULE_DEPTH) throw new Error(`modules nested too deeply at ${label}`);
    if (this.modules.has(path) || this.seenNodes.has(node)) throw new Error(`module ${label} appears twice`);
    this.modules.set(path, node);
    this.seenNodes.add(node);
    const attrs = node.attrs;
    if (attrs === null) throw new Error(`module ${label} (${node.className}) has no state`);
    const training = attrs.get('training');
    if (typeof training === 'boolean') this.moduleTraining.set(path, training);
    else this.problems.push(`${label}.training is ${repr(training)}, not a bool`);
    const join = (k: string): string => (path ? `${path}.${k}` : k);
    const params = mapping(attrs, '_parameters', label);
    const buffers = mapping(attrs, '_buffers', label);
    const children = mapping(attrs, '_modules', label);
    const np = attrs.get('_non_persistent_buffers_set');
    const nonPersistent = np instanceof PySet ? new Set(np.items) : new Set<PyValue>();
    for (const [k, v] of params.entries()) {
      const key = strKey(k, `${label}._parameters`);
      if (v === null) continue;
      if (v instanceof ParameterRef) this.add(join(key), v.tensor, v.requiresGrad);
      else if (v instanceof TensorRef) this.add(join(key), v, v.requiresGrad);
      else throw new Error(`parameter ${join(key)} is ${typeName(v)}`);
    }
    for (const [k, v] of buffers.entries()) {
      const key = strKey(k, `${label}._buffers`);
      if (v === null || nonPersistent.has(key)) continue;
      if (!(v instanceof TensorRef)) throw new Error(`buffer ${join(key)} is ${typeName(v)}`);
      this.add(join(key), v, null);
    }
    for (const [k, v] of children.entries()) {
      const key = strKey(k, `${label}._modules`);
      if (v === null) continue;
      if (!(v instanceof ModuleNode)) throw new Error(`module ${join(key)} is ${typeName(v)}`);
      this.walk(v, join(key), depth + 1);
    }
  }

  /** state_dict: an (Ordered)dict of tensors. */
  stateDict(d: PyDict, label: string): boolean {
    const entries: [string, TensorRef, boolean | null][] = [];
    for (const [k, v] of d.entries()) {
      const key = strKey(k, label);
      if (v instanceof TensorRef) entries.push([key, v, null]);
      else if (v instanceof ParameterRef) entries.push([key, v.tensor, v.requiresGrad]);
      else throw new Error(`${label} holds ${typeName(v)} at '${key}', not a tensor`);
    }
    const strip = entries.length > 0 && entries.every(([k]) => k.startsWith('module.'));
    for (const [k, t, rg] of entries) this.add(strip ? k.slice('module.'.length) : k, t, rg);
    return strip;
  }

  /** docs/checkpoint-format.md §10.2: the module tree must be the original's ResNet-18, hyper-parameters included. */
  checkResNet(): void {
    // The class count as the module says it (out_features); tensor shapes are checkFits' business.
    let numClasses = asInt(this.modules.get('linear')?.attrs?.get('out_features') ?? null);
    if (numClasses === undefined || numClasses < 1) {
      try {
        numClasses = numClassesOf(new Map([...this.tensors].map(([k, t]) => [k, t.shape])));
      } catch (e) {
        this.problems.push(oneLine(e));
        return;
      }
    }
    const expected = modulePaths(resnet18Graph(numClasses));
    const expectedPaths = new Set(expected.map(([p]) => p));
    // Paths come parents first; below a module that is already wrong, say nothing more.
    const wrong: string[] = [];
    for (const [path, spec] of expected) {
      if (wrong.some((w) => path.startsWith(`${w}.`))) continue;
      const node = this.modules.get(path);
      const label = path || 'net';
      const cls = MODULE_CLASS[spec.kind].join('.');
      if (node === undefined || node.className !== cls) {
        this.problems.push(node === undefined ? `${label} is missing; a ResNet18 has a ${cls} there` : `${label} is ${node.className}; a ResNet18 has ${cls}`);
        wrong.push(path);
        continue;
      }
      this.checkHyper(label, node, spec);
    }
    for (const path of this.modules.keys()) {
      if (expectedPaths.has(path) || wrong.some((w) => path.startsWith(`${w}.`))) continue;
      this.problems.push(`unexpected module ${path}; a ResNet18 has none there`);
      wrong.push(path);
    }
  }

  private checkHyper(label: string, node: ModuleNode, spec: ModuleSpec): void {
    const attrs = node.attrs as PyDict;
    const want = (field: string, expected: string, required: boolean): void => {
      const v = attrs.get(field);
      if (v === undefined && !required) return;
      const got = v === undefined ? 'missing' : repr(v);
      if (got !== expected) this.problems.push(`${label}.${field} is ${got}; a ResNet18 has ${expected}`);
    };
    const pair = (n: number): string => `(${n}, ${n})`;
    switch (spec.kind) {
      case 'Conv2d':
        want('stride', pair(spec.stride), true);
        want('padding', pair(spec.padding), true);
        want('dilation', pair(1), true);
        want('groups', '1', true);
        want('kernel_size', pair(spec.kernel), false);
        want('in_channels', String(spec.inChannels), false);
        want('out_channels', String(spec.outChannels), false);
        want('padding_mode', "'zeros'", false);
        break;
      case 'BatchNorm2d':
        want('eps', repr(new PyFloat(BN_EPS)), true);
        want('momentum', repr(new PyFloat(BN_MOMENTUM)), true);
        want('track_running_stats', 'True', true);
        want('affine', 'True', false);
        want('num_features', String(spec.features), false);
        break;
      case 'Linear':
        want('in_features', String(spec.inFeatures), false);
        want('out_features', String(spec.outFeatures), false);
        break;
      default:
        break;
    }
  }
}

function mapping(attrs: PyDict, field: string, label: string): PyDict {
  const v = attrs.get(field);
  if (!(v instanceof PyDict)) throw new Error(`module ${label} has ${field} = ${repr(v)}`);
  return v;
}

function strKey(k: PyValue, where: string): string {
  if (typeof k !== 'string') throw new Error(`${where} has a ${typeName(k)} key`);
  return k;
}

function isModelDict(d: PyDict): boolean {
  if (d.size === 0) return false;
  for (const v of d.values) if (!(v instanceof TensorRef || v instanceof ParameterRef)) return false;
  return true;
}

function interpret(opened: OpenedCheckpoint, file: string, fileSize: number, strict: boolean): Checkpoint {
  const root = opened.root;
  const r = new Reader(opened, fileSize);
  const topKeys = root instanceof PyDict ? root.keys.map((k) => (typeof k === 'string' ? k : `<${typeName(k)}>`)) : [];

  let model: PyValue;
  let modelKey: string | null;
  if (root instanceof PyDict && root.has('net')) {
    modelKey = 'net';
    model = root.get('net') ?? null;
  } else if (root instanceof PyDict && root.has('state_dict')) {
    modelKey = 'state_dict';
    model = root.get('state_dict') ?? null;
  } else {
    modelKey = null;
    model = root;
  }
  const where = modelKey === null ? 'the file' : `'${modelKey}'`;
  if (model instanceof ModuleNode && model.className === 'torch.nn.parallel.data_parallel.DataParallel') {
    const inner = model.attrs?.get('_modules');
    const wrapped = inner instanceof PyDict ? inner.get('module') : undefined;
    if (!(wrapped instanceof ModuleNode)) throw new Error(`${where} is a DataParallel without a module`);
    r.warnings.push(`${where} is a DataParallel wrapper; using the module inside it`);
    model = wrapped;
  }

  let modelClass: string;
  let strippedPrefix = false;
  if (model instanceof ModuleNode) {
    modelClass = model.className;
    r.walk(model, '', 0);
    if (modelClass === 'models.resnet.ResNet') r.checkResNet();
    else r.problems.push(`${where} is ${modelClass}; wmnn runs models.resnet.ResNet`);
  } else if (model instanceof PyDict && isModelDict(model)) {
    modelClass = 'state_dict';
    strippedPrefix = r.stateDict(model, where);
  } else if (root instanceof PyDict && modelKey === null) {
    throw new Error(`no 'net' or 'state_dict' key, and the file is not a state_dict (keys: ${topKeys.slice(0, 8).join(', ')})`);
  } else {
    throw new Error(`${where} is ${typeName(model)}, not a model or a state_dict`);
  }

  const acc = root instanceof PyDict && modelKey !== null ? readAcc(root.get('acc'), r) : null;
  const epoch = root instanceof PyDict && modelKey !== null ? readEpoch(root.get('epoch'), r) : null;
  const wmnnV = root instanceof PyDict ? root.get(WMNN_KEY) : undefined;
  const wmnn = wmnnV === undefined ? null : readExtra(wmnnV, r);

  const locations = [...new Set([...opened.storages.values()].map((s) => s.location))].sort();
  for (const l of locations) {
    if (!/^(cpu|cuda(:\d+)?)$/.test(l)) r.warnings.push(`storage location '${l}' is unusual; its data is read like any other`);
  }
  for (const [name, t] of r.tensors) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
    let bad = 0;
    for (const x of t.data as Float32Array | Float64Array) if (!Number.isFinite(x)) bad++;
    if (bad > 0) r.warnings.push(`${name} holds ${bad} non-finite value${bad > 1 ? 's' : ''}`);
  }

  if (strict && r.problems.length > 0) {
    const more = r.problems.length > 1 ? ` (and ${r.problems.length - 1} more)` : '';
    throw new CheckpointError(`${file}: ${r.problems[0]}${more}`);
  }
  const flags = new Set(r.moduleTraining.values());
  return {
    file,
    container: opened.container,
    archiveName: opened.archiveName,
    pickleProtocol: opened.protocol,
    topKeys,
    modelClass,
    modelKey,
    tensors: r.tensors,
    requiresGrad: r.requiresGrad,
    moduleTraining: r.moduleTraining,
    training: flags.size === 0 ? null : flags.size === 1 ? ([...flags][0] as boolean) : 'mixed',
    acc,
    epoch,
    locations,
    globals: opened.globals,
    strippedPrefix,
    wmnn,
    warnings: r.warnings,
    problems: r.problems,
  };
}

function scalarOf(t: Tensor): number {
  const v = t.data[0];
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

function readAcc(v: PyValue | undefined, r: Reader): CheckpointAcc | null {
  if (v === undefined) return null;
  if (v instanceof PyFloat) return { value: v.value, kind: 'number', dtype: null };
  const n = asInt(v);
  if (n !== undefined) return { value: n, kind: 'number', dtype: null };
  if (v instanceof TensorRef && numel(v.size) === 1) {
    const t = r.materialize(v, 'acc');
    const d = t.dtype;
    if (d === 'float32' || d === 'float64') return { value: scalarOf(t), kind: 'float-tensor', dtype: d };
    if (d === 'int64' || d === 'int32' || d === 'int16' || d === 'int8' || d === 'uint8') return { value: scalarOf(t), kind: 'int-tensor', dtype: d };
  }
  r.problems.push(`acc is ${v instanceof TensorRef ? `a ${v.storage.dtype} tensor of shape ${shapeString(v.size)}` : typeName(v)}, not a number`);
  return null;
}

function readEpoch(v: PyValue | undefined, r: Reader): number | null {
  if (v === undefined) return null;
  const n = typeof v === 'boolean' ? undefined : asInt(v);
  if (n === undefined) {
    r.problems.push(`epoch is ${typeName(v)}, not an int`);
    return null;
  }
  return n;
}

function readExtra(v: PyValue, r: Reader): WmnnExtra | null {
  if (!(v instanceof PyDict)) throw new Error(`'${WMNN_KEY}' is ${typeName(v)}, not a dict`);
  const schema = asInt(v.get('schema') ?? null);
  if (schema === undefined) throw new Error(`'${WMNN_KEY}' has no schema number`);
  if (schema > WMNN_SCHEMA) {
    r.warnings.push(`'${WMNN_KEY}' has schema ${schema}, newer than this wmnn (${WMNN_SCHEMA}); its resume state is ignored`);
    return null;
  }
  const named = (field: string): [string, Tensor][] | undefined => {
    const d = v.get(field);
    if (d === undefined) return undefined;
    if (!(d instanceof PyDict)) throw new Error(`${WMNN_KEY}.${field} is ${typeName(d)}`);
    return [...d.entries()].map(([k, t]): [string, Tensor] => {
      const key = strKey(k, `${WMNN_KEY}.${field}`);
      if (!(t instanceof TensorRef)) throw new Error(`${WMNN_KEY}.${field}.${key} is ${typeName(t)}`);
      return [key, r.materialize(t, `${WMNN_KEY}.${field}.${key}`)];
    });
  };
  const out: WmnnExtra = {};
  const momentum = named('momentum');
  if (momentum) out.momentum = momentum;
  const tensors = named('tensors');
  if (tensors) out.tensors = tensors;
  const rng = v.get('rng');
  if (rng !== undefined) {
    if (!(rng instanceof TensorRef) || rng.storage.dtype !== 'uint8' || rng.size.length !== 1) throw new Error(`${WMNN_KEY}.rng is not a uint8 vector`);
    out.rng = r.materialize(rng, `${WMNN_KEY}.rng`).data as Uint8Array;
  }
  const state = v.get('state');
  if (state !== undefined) {
    if (!(state instanceof PyDict)) throw new Error(`${WMNN_KEY}.state is ${typeName(state)}`);
    out.state = {};
    for (const [k, s] of state.entries()) {
      const key = strKey(k, `${WMNN_KEY}.state`);
      let val: WmnnScalar;
      if (typeof s === 'string' || typeof s === 'boolean') val = s;
      else if (s instanceof PyFloat) val = s.value;
      else if (asInt(s) !== undefined) val = asInt(s) as number;
      else throw new Error(`${WMNN_KEY}.state.${key} is ${typeName(s)}`);
      out.state[key] = val;
    }
  }
  return out;
}

export interface ExpectedTensor {
  name: string;
  shape: readonly number[];
  dtype: DType;
}

/**
 * Check that a checkpoint's tensors fit a model: the same names, shapes and dtypes (order is not
 * compared). Throws one line listing the first mismatches. `label` (a file name) prefixes it.
 */
export function checkFits(tensors: ReadonlyMap<string, Tensor> | Iterable<readonly [string, Tensor]>, expected: readonly ExpectedTensor[], label?: string): void {
  const have = tensors instanceof Map ? (tensors as ReadonlyMap<string, Tensor>) : new Map(tensors);
  const want = new Map(expected.map((e) => [e.name, e]));
  const issues: string[] = [];
  const missing = expected.filter((e) => !have.has(e.name)).map((e) => e.name);
  const unexpected = [...have.keys()].filter((k) => !want.has(k));
  for (const e of expected) {
    const t = have.get(e.name);
    if (t === undefined) continue;
    const shapeOk = t.shape.length === e.shape.length && t.shape.every((d, i) => d === e.shape[i]);
    if (!shapeOk) issues.push(`${e.name} has shape ${shapeString(t.shape)}, expected ${shapeString(e.shape)}`);
    else if (t.dtype !== e.dtype) issues.push(`${e.name} is ${t.dtype}, expected ${e.dtype}`);
  }
  const list = (what: string, names: string[]): string =>
    `${what} ${names.slice(0, MAX_LISTED).join(', ')}${names.length > MAX_LISTED ? ` and ${names.length - MAX_LISTED} more` : ''}`;
  const parts: string[] = [];
  if (missing.length) parts.push(list('missing', missing));
  if (unexpected.length) parts.push(list('unexpected', unexpected));
  if (issues.length) parts.push(issues.slice(0, MAX_LISTED).join('; ') + (issues.length > MAX_LISTED ? `; and ${issues.length - MAX_LISTED} more` : ''));
  if (parts.length === 0) return;
  throw new CheckpointError(`${label ? `${label}: ` : ''}checkpoint does not fit the model: ${parts.join('; ')}`);
}
