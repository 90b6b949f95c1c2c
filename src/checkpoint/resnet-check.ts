// Whether a module graph read from a file is the original's ResNet-18 (docs/checkpoint-format.md
// §10.2): every module's class on its path, and the hyper-parameters that change what forward
// computes. The expected tree comes from resnet-graph.ts, the one description of the model.

import { excerpt } from '../quote.js';
import type { Tensor } from '../tensor.js';
import { oneLine, type Findings } from './errors.js';
import { PyFloat, asInt, reprValue, type PyDict } from './pickle-values.js';
import { BN_EPS, BN_MOMENTUM, MODULE_CLASS, modulePaths, numClassesOf, resnet18Graph, type ModuleSpec } from './resnet-graph.js';
import type { ModuleNode } from './torch-objects.js';

/**
 * The differences between `modules` (by dotted path, '' = root) and a ResNet-18, one line each,
 * added to `problems`. The class count is the one the file's `linear` says (out_features, else
 * linear.weight's rows).
 */
export function checkResNet(modules: ReadonlyMap<string, ModuleNode>, tensors: ReadonlyMap<string, Tensor>, problems: Findings): void {
  // The class count as the module says it (out_features); tensor shapes are checkFits' business.
  let numClasses = asInt(modules.get('linear')?.attrs?.get('out_features') ?? null);
  if (numClasses === undefined || numClasses < 1) {
    try {
      numClasses = numClassesOf(new Map([...tensors].map(([k, t]) => [k, t.shape])));
    } catch (e) {
      problems.push(oneLine(e));
      return;
    }
  }
  const expected = modulePaths(resnet18Graph(numClasses));
  const expectedPaths = new Set(expected.map(([p]) => p));
  // Paths come parents first; below a module that is already wrong, say nothing more. The
  // ancestors of a path are looked up one by one (paths are at most a few dozen levels deep).
  const wrong = new Set<string>();
  const belowWrong = (path: string): boolean => {
    for (let dot = path.lastIndexOf('.'); dot > 0; dot = path.lastIndexOf('.', dot - 1)) if (wrong.has(path.slice(0, dot))) return true;
    return false;
  };
  for (const [path, spec] of expected) {
    if (belowWrong(path)) continue;
    const node = modules.get(path);
    const label = path || 'net';
    const cls = MODULE_CLASS[spec.kind].join('.');
    if (node === undefined || node.className !== cls) {
      problems.push(
        node === undefined ? `${label} is missing; a ResNet18 has a ${cls} there` : `${label} is ${node.className}; a ResNet18 has ${cls}`,
      );
      wrong.add(path);
      continue;
    }
    problems.push(...hyperProblems(label, node.attrs as PyDict, spec));
  }
  for (const path of modules.keys()) {
    if (expectedPaths.has(path) || belowWrong(path)) continue;
    problems.push(`unexpected module ${excerpt(path)}; a ResNet18 has none there`);
    wrong.add(path);
  }
}

function hyperProblems(label: string, attrs: PyDict, spec: ModuleSpec): string[] {
  const problems: string[] = [];
  const want = (field: string, expected: string, required: boolean): void => {
    const v = attrs.get(field);
    if (v === undefined && !required) return;
    const got = v === undefined ? 'missing' : reprValue(v);
    if (got !== expected) problems.push(`${label}.${field} is ${got}; a ResNet18 has ${expected}`);
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
      want('eps', reprValue(new PyFloat(BN_EPS)), true);
      want('momentum', reprValue(new PyFloat(BN_MOMENTUM)), true);
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
  return problems;
}
