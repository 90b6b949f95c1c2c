// calibration.json, which `wmnn calibrate` writes and `verify --calibration` reads: the unmarked
// models' agreements with one trigger set (named by its digest, so that a calibration is never
// applied to another set), and the null fitted to them. verify refits from the agreements; the
// stored fit is for people.
import { field, isArray, isPosInt, isString, readJsonFile } from './json-file.js';
import { fitNull, type NullFit } from './calibration.js';

export const CALIBRATION_FORMAT = 'wmnn-calibration';

/** One unmarked model, as measured. */
export interface NullModel {
  path: string;
  sha256: string;
  agreement: { k: number; n: number };
  /** Set when calibrate trained it (wmnn train without the trigger set). */
  trained: { seed: number; command: string } | null;
}

export interface CalibrationFile {
  format: typeof CALIBRATION_FORMAT;
  version: 1;
  wmnn: string;
  time: string;
  triggerSet: { path: string; labelsFile: string; images: number; sha256: string; digest: string };
  /** The classes the trigger labels were drawn from (the null's chance floor is 1/classes). */
  classes: number;
  classesFrom: 'commitments' | 'model';
  models: NullModel[];
  fit: NullFit & { description: string };
  /** The calibrated decision at calibrate's --alpha, for people (verify uses its own --alpha). */
  alpha: number;
  threshold: number;
  /** The binomial decision's threshold at that alpha, beside it. */
  binomialThreshold: number;
}

const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The calibration's trigger-set digest, classes and agreements, checked; the fit recomputed from them. */
export interface Calibration {
  path: string;
  /** SHA-256 of the bytes read (verify records it for every model it decides). */
  sha256: string;
  digest: string;
  images: number;
  classes: number;
  agreements: number[];
  fit: NullFit;
}

export function readCalibration(path: string): Calibration {
  const { value: obj, sha256 } = readJsonFile(path);
  if (obj.format !== CALIBRATION_FORMAT || obj.version !== 1)
    throw new Error(`${path}: not a wmnn calibration (format "${CALIBRATION_FORMAT}", version 1)`);
  const set = field(path, obj, 'triggerSet', isObject, 'an object');
  const digest = field(path, set, 'sha256', isString, 'a string');
  const images = field(path, set, 'images', isPosInt, 'a positive integer');
  const classes = field(path, obj, 'classes', isPosInt, 'a positive integer');
  if (classes < 2) throw new Error(`${path}: "classes" must be at least 2`);
  const models = field(path, obj, 'models', isArray, 'an array');
  const agreements = models.map((m, i) => {
    const a = isObject(m) && isObject(m.agreement) ? m.agreement : undefined;
    if (!a || !isNonNegInt(a.k) || a.n !== images || a.k > images) {
      throw new Error(`${path}: models[${i}].agreement must be {k, n} with 0 <= k <= n = ${images} (the trigger set's images)`);
    }
    return a.k;
  });
  let fit: NullFit;
  try {
    fit = fitNull(
      agreements.map((k) => ({ k, n: images })),
      classes,
    );
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  return { path, sha256, digest, images, classes, agreements, fit };
}
