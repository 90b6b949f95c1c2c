// Reading a checkpoint, the entry point: the file (file.ts), its container (container.ts), the model
// in the object graph (model-graph.ts, docs/checkpoint-format.md §10.1), the ResNet-18 checks
// (resnet-check.ts, §10.2) and wmnn's extra state (wmnn-extra.ts), assembled into a `Checkpoint`.
// Nothing here knows about training; tensors come back as plain `Tensor`s.

import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { Tensor } from '../tensor.js';
import { excerpt, quote } from '../quote.js';
import { BudgetError, CHECKPOINT_LIMITS, ReadBudget, type BudgetLimits } from './budget.js';
import { openCheckpoint } from './container.js';
import { CheckpointError, Findings, oneLine } from './errors.js';
import { readRegularFile } from './file.js';
import { isSafetensors, readSafetensors } from './safetensors.js';
import { TensorMaterializer } from './materialize.js';
import { ModelGraph, findModel, isStateDict, readAcc, readEpoch, type CheckpointAcc } from './model-graph.js';
import { PyDict, typeName } from './pickle-values.js';
import { checkResNet } from './resnet-check.js';
import { ModuleNode, TORCH_GLOBALS } from './torch-objects.js';
import { WMNN_KEY, decodeExtra, type WmnnExtra } from './wmnn-extra.js';

export { CheckpointError } from './errors.js';
export { checkFits, type ExpectedTensor } from './fits.js';
export type { AccKind, CheckpointAcc } from './model-graph.js';

export interface ReadOptions {
  /**
   * When true (the default), a model that differs from the original's ResNet-18 in class or
   * hyper-parameters (docs/checkpoint-format.md §10.2) is an error. When false, such findings are
   * listed in `problems`.
   */
  strict?: boolean;
  /** What the read may spend (docs/checkpoint.md, "Resource budget"); CHECKPOINT_LIMITS by default. */
  limits?: Partial<BudgetLimits>;
  /**
   * False to leave the SGD momentum of wmnn's extra state unread (`wmnn.momentum` absent): scoring
   * a model never needs it, and it is half of a wmnn checkpoint. True by default.
   */
  momentum?: boolean;
  /** True to compute the SHA-256 of the bytes read (`sha256`), the very bytes the model comes from. */
  sha256?: boolean;
}

export interface Checkpoint {
  file: string;
  /** The SHA-256 of the file's bytes, hex, when `sha256` was asked for; else null. */
  sha256: string | null;
  /** torch.save's two formats, or a safetensors file (tensors only). */
  container: 'zip' | 'legacy' | 'safetensors';
  /** The zip's folder name; null for legacy and safetensors files. */
  archiveName: string | null;
  /** null for safetensors files, which hold no pickle. */
  pickleProtocol: number | null;
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

const RESNET_CLASS = 'models.resnet.ResNet';
const USUAL_LOCATION = /^(cpu|cuda(:\d+)?)$/;

function budgetOf(opts: ReadOptions): ReadBudget {
  return new ReadBudget({ ...CHECKPOINT_LIMITS, ...opts.limits });
}

/** Read the checkpoint at `path` (a regular file); every error is one line starting with its base name. */
export function readCheckpoint(path: string, opts: ReadOptions = {}): Checkpoint {
  const name = basename(path);
  const budget = budgetOf(opts);
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path, budget);
  } catch (e) {
    throw new CheckpointError(`${name}: ${oneLine(e)}`);
  }
  return readWithin(bytes, name, opts, budget);
}

/** Read a checkpoint held in memory; `fileName` prefixes every error. */
export function readCheckpointBytes(bytes: Uint8Array, fileName: string, opts: ReadOptions = {}): Checkpoint {
  const budget = budgetOf(opts);
  if (bytes.length > budget.limits.fileBytes) {
    throw new CheckpointError(`${fileName}: file is ${bytes.length} bytes; checkpoints are read up to ${budget.limits.fileBytes} bytes`);
  }
  try {
    budget.hold(bytes.length, 'the file');
  } catch (e) {
    throw new CheckpointError(`${fileName}: ${oneLine(e)}`);
  }
  return readWithin(bytes, fileName, opts, budget);
}

function readWithin(bytes: Uint8Array, fileName: string, opts: ReadOptions, budget: ReadBudget): Checkpoint {
  try {
    return isSafetensors(bytes) ? fromSafetensors(bytes, fileName, opts, budget) : interpret(bytes, fileName, opts, budget);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    // Nothing but the budget's own errors, or a JavaScript engine limit a hostile file found anyway.
    const why = e instanceof BudgetError || e instanceof Error ? oneLine(e) : String(e);
    throw new CheckpointError(`${fileName}: ${why}`);
  }
}

function digestIfAsked(bytes: Uint8Array, opts: ReadOptions): string | null {
  return opts.sha256 ? createHash('sha256').update(bytes).digest('hex') : null;
}

function warnNonFinite(tensors: ReadonlyMap<string, Tensor>, warnings: Findings): void {
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
    // An indexed loop: for-of over a typed array of 11M weights costs several times as much.
    const data = t.data as Float32Array | Float64Array;
    let bad = 0;
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) bad++;
    if (bad > 0) warnings.push(`${excerpt(name)} holds ${bad} non-finite value${bad > 1 ? 's' : ''}`);
  }
}

/** A safetensors file (what `wmnn export` writes): tensors by name, nothing else to interpret. */
function fromSafetensors(bytes: Uint8Array, file: string, opts: ReadOptions, budget: ReadBudget): Checkpoint {
  const { tensors } = readSafetensors(bytes, budget);
  const warnings = new Findings();
  warnNonFinite(tensors, warnings);
  return {
    file,
    sha256: digestIfAsked(bytes, opts),
    container: 'safetensors',
    archiveName: null,
    pickleProtocol: null,
    topKeys: [],
    modelClass: 'state_dict',
    modelKey: null,
    tensors,
    requiresGrad: new Map(),
    moduleTraining: new Map(),
    training: null,
    acc: null,
    epoch: null,
    locations: [],
    globals: [],
    strippedPrefix: false,
    wmnn: null,
    warnings: warnings.lines(),
    problems: [],
  };
}

function interpret(bytes: Uint8Array, file: string, opts: ReadOptions, budget: ReadBudget): Checkpoint {
  const strict = opts.strict ?? true;
  const opened = openCheckpoint(bytes, TORCH_GLOBALS, budget);
  const root = opened.root;
  const materialize = new TensorMaterializer(opened, budget);
  const warnings = new Findings();
  const problems = new Findings();
  const graph = new ModelGraph(materialize, budget, problems);
  const topKeys = root instanceof PyDict ? root.keys.map((k) => (typeof k === 'string' ? k : `<${typeName(k)}>`)) : [];

  const { model, key: modelKey, where } = findModel(root, warnings);
  let modelClass: string;
  let strippedPrefix = false;
  if (model instanceof ModuleNode) {
    modelClass = model.className;
    graph.walk(model);
    if (modelClass === RESNET_CLASS) checkResNet(graph.modules, graph.tensors, problems);
    else problems.push(`${where} is ${modelClass}; wmnn runs ${RESNET_CLASS}`);
  } else if (isStateDict(model)) {
    modelClass = 'state_dict';
    strippedPrefix = graph.stateDict(model, where);
  } else if (root instanceof PyDict && modelKey === null) {
    throw new Error(
      `no 'net' or 'state_dict' key, and the file is not a state_dict (keys: ${topKeys
        .slice(0, 8)
        .map((k) => quote(k))
        .join(', ')})`,
    );
  } else {
    throw new Error(`${where} is ${typeName(model)}, not a model or a state_dict`);
  }

  const top = root instanceof PyDict && modelKey !== null ? root : null;
  const acc = top ? readAcc(top.get('acc'), materialize, problems) : null;
  const epoch = top ? readEpoch(top.get('epoch'), problems) : null;
  const extraValue = root instanceof PyDict ? root.get(WMNN_KEY) : undefined;
  const wmnn = extraValue === undefined ? null : decodeExtra(extraValue, materialize, warnings, { momentum: opts.momentum ?? true });

  const locations = [...new Set([...opened.storages.values()].map((s) => s.location))].sort();
  for (const l of locations) {
    if (!USUAL_LOCATION.test(l)) warnings.push(`storage location ${quote(l)} is unusual; its data is read like any other`);
  }
  warnNonFinite(graph.tensors, warnings);

  if (strict && problems.count > 0) {
    const more = problems.count > 1 ? ` (and ${problems.count - 1} more)` : '';
    throw new CheckpointError(`${file}: ${problems.list[0]}${more}`);
  }
  const flags = new Set(graph.moduleTraining.values());
  return {
    file,
    sha256: digestIfAsked(bytes, opts),
    container: opened.container,
    archiveName: opened.archiveName,
    pickleProtocol: opened.protocol,
    topKeys,
    modelClass,
    modelKey,
    tensors: graph.tensors,
    requiresGrad: graph.requiresGrad,
    moduleTraining: graph.moduleTraining,
    training: flags.size === 0 ? null : flags.size === 1 ? ([...flags][0] as boolean) : 'mixed',
    acc,
    epoch,
    locations,
    globals: opened.globals,
    strippedPrefix,
    wmnn,
    warnings: warnings.lines(),
    problems: problems.lines(),
  };
}
