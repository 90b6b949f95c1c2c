// Which dataset a --dataset name means, where its train and test splits come from, and the
// Normalize its images (and a trigger set mixed into them) get.
import { loadCifar, type Split } from './cifar.js';
import type { ImageSet } from './dataset.js';
import { loadImageFolder } from './image-folder.js';
import { loadMnist, mnistNormalization } from './mnist.js';
import { CIFAR_NORMALIZATION, type Normalization } from './normalization.js';
import { synthetic } from './synthetic.js';

export const DATASETS = ['cifar10', 'cifar100', 'fashion-mnist', 'mnist', 'synthetic', 'imagefolder'] as const;
export type DatasetName = (typeof DATASETS)[number];

/** The built-in data is the same in every run and every command (train, predict, fine-tune). */
export const SYNTHETIC_SEED = 1;

export interface SplitRequest {
  dataset: string;
  /** The folder given by --train_db_path / --test_db_path / --db_path. */
  root: string;
  split: Split;
  /** Image count for the synthetic dataset. */
  syntheticCount: number;
  /** Status lines (downloads); default stderr. */
  log?: (line: string) => void;
}

export function datasetName(name: string): DatasetName {
  const lower = name.toLowerCase(); // the original compares datatype.lower()
  if ((DATASETS as readonly string[]).includes(lower)) return lower as DatasetName;
  throw new Error(`--dataset ${name} is not supported (choose ${DATASETS.join(', ')})`);
}

export async function loadSplit(req: SplitRequest): Promise<ImageSet> {
  const dataset = datasetName(req.dataset);
  const log = req.log ? { log: req.log } : {};
  switch (dataset) {
    case 'cifar10':
    case 'cifar100':
      return loadCifar({ root: req.root, dataset, split: req.split, download: true, ...log });
    case 'fashion-mnist':
    case 'mnist':
      return loadMnist({ root: req.root, dataset, split: req.split, download: true, ...log });
    case 'synthetic':
      return synthetic({ split: req.split, count: req.syntheticCount, seed: SYNTHETIC_SEED });
    case 'imagefolder':
      return loadImageFolder({ root: req.root, split: req.split });
  }
}

/** The Normalize of a dataset's images, known without reading it; a trigger set for its models takes it too. */
export function datasetNormalization(name: string): Normalization {
  const dataset = datasetName(name);
  return dataset === 'fashion-mnist' || dataset === 'mnist' ? mnistNormalization(dataset) : CIFAR_NORMALIZATION;
}
