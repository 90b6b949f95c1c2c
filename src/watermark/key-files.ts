// The two files keygen writes next to a trigger set: commitments.json (published) and
// openings.json (kept secret), how they are read back and checked, and how verify opens them.
import { COMMITMENT_SCHEME, NONCE_BYTES, opens, type TriggerItem } from './commitments.js';
import { field, isArray, isPosInt, isString, readJson, readJsonFile } from './json-file.js';
import { TRIGGER_KINDS, type Construction, type TriggerKind } from './trigger-kinds.js';

export const COMMITMENTS_FILE = 'commitments.json';
export const OPENINGS_FILE = 'openings.json';

/** Where keygen's randomness came from; a seeded set is a public demo, never a secret. */
export type Randomness = { kind: 'crypto' } | { kind: 'seeded'; seed: number };

export interface CommitmentsFile {
  format: 'wmnn-commitments';
  version: 1;
  scheme: string;
  /** Labels were drawn uniformly from 0..classes-1: a chance agreement has probability 1/classes. */
  classes: number;
  size: number;
  labels_file: string;
  /** What the images are (abstract, content, noise, unrelated); files written before kinds existed are abstract. */
  kind: TriggerKind;
  randomness: Randomness;
  note: string;
  /** In the trigger-set loader's order (the labels file's order). */
  items: { file: string; commitment: string }[];
}

export interface OpeningsFile {
  format: 'wmnn-openings';
  version: 1;
  randomness: Randomness;
  /** How the images were made (the overlay, the source images); secret with the rest of the openings. */
  construction: Construction;
  note: string;
  items: { file: string; nonce: string }[];
}

export function keyNotes(randomness: Randomness): { commitments: string; openings: string } {
  if (randomness.kind === 'seeded') {
    const demo = `PUBLIC DEMO SET, generated from the public seed ${randomness.seed}: anyone can regenerate it, so it proves nothing about ownership. Make your own secret set with \`wmnn keygen --out DIR\` (no --seed).`;
    return { commitments: demo, openings: demo };
  }
  return {
    commitments: 'Publish this file (with a trusted timestamp) before releasing the model; it reveals nothing about the images or labels.',
    openings:
      'SECRET: keep this file, the images and the labels private until ownership must be proven. Whoever has the trigger set can try to remove the mark, or pass it off as theirs.',
  };
}

const HEX64 = /^[0-9a-f]{64}$/;

function kindOf(path: string, obj: Record<string, unknown>): TriggerKind {
  const kind = obj.kind ?? 'abstract';
  if (!(TRIGGER_KINDS as readonly unknown[]).includes(kind)) throw new Error(`${path}: "kind" must be one of ${TRIGGER_KINDS.join(', ')}`);
  return kind as TriggerKind;
}

/** The construction record, checked only as far as verify relies on it (its kind). */
function constructionOf(path: string, obj: Record<string, unknown>): Construction {
  const c = obj.construction;
  if (c === undefined) return { kind: 'abstract' };
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error(`${path}: "construction" must be an object`);
  kindOf(path, c as Record<string, unknown>);
  return c as Construction;
}

function randomnessOf(path: string, obj: Record<string, unknown>): Randomness {
  const r = obj.randomness as Record<string, unknown> | undefined;
  if (r?.kind === 'crypto') return { kind: 'crypto' };
  if (r?.kind === 'seeded' && typeof r.seed === 'number') return { kind: 'seeded', seed: r.seed };
  throw new Error(`${path}: "randomness" must be {"kind": "crypto"} or {"kind": "seeded", "seed": N}`);
}

/** The items of a key file: objects with a `file` and a 64-hex-digit `key` field, files unique. */
function itemsOf<K extends string>(path: string, obj: Record<string, unknown>, key: K): ({ file: string } & Record<K, string>)[] {
  const raw = field(path, obj, 'items', isArray, 'an array');
  const seen = new Set<string>();
  return raw.map((item, i) => {
    const it = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const file = it.file;
    const value = it[key];
    if (typeof file !== 'string' || typeof value !== 'string' || !HEX64.test(value)) {
      throw new Error(`${path}: items[${i}] must be {"file": "...", "${key}": "<64 hex digits>"}`);
    }
    if (seen.has(file)) throw new Error(`${path}: ${file} is listed twice`);
    seen.add(file);
    return { file, [key]: value } as { file: string } & Record<K, string>;
  });
}

/** The commitments file, and the SHA-256 of the bytes it was parsed from (verify's record cites it). */
export function readCommitmentsFile(path: string): { commitments: CommitmentsFile; sha256: string } {
  const { value: obj, sha256 } = readJsonFile(path);
  if (obj.format !== 'wmnn-commitments' || obj.version !== 1)
    throw new Error(`${path}: not a wmnn commitments file (format "wmnn-commitments", version 1)`);
  const scheme = field(path, obj, 'scheme', isString, 'a string');
  if (scheme !== COMMITMENT_SCHEME) throw new Error(`${path}: unknown commitment scheme ${JSON.stringify(scheme)}`);
  const classes = field(path, obj, 'classes', isPosInt, 'a positive integer');
  if (classes < 2) throw new Error(`${path}: "classes" must be at least 2`);
  const commitments: CommitmentsFile = {
    format: 'wmnn-commitments',
    version: 1,
    scheme,
    classes,
    size: field(path, obj, 'size', isPosInt, 'a positive integer'),
    labels_file: field(path, obj, 'labels_file', isString, 'a string'),
    kind: kindOf(path, obj),
    randomness: randomnessOf(path, obj),
    note: typeof obj.note === 'string' ? obj.note : '',
    items: itemsOf(path, obj, 'commitment'),
  };
  return { commitments, sha256 };
}

export const readCommitments = (path: string): CommitmentsFile => readCommitmentsFile(path).commitments;

export function readOpenings(path: string): OpeningsFile {
  const obj = readJson(path);
  if (obj.format !== 'wmnn-openings' || obj.version !== 1)
    throw new Error(`${path}: not a wmnn openings file (format "wmnn-openings", version 1)`);
  return {
    format: 'wmnn-openings',
    version: 1,
    randomness: randomnessOf(path, obj),
    construction: constructionOf(path, obj),
    note: typeof obj.note === 'string' ? obj.note : '',
    items: itemsOf(path, obj, 'nonce'),
  };
}

export interface KeyPaths {
  commitments: string;
  openings: string;
  triggerSet: string;
}

/**
 * Opens every commitment: the trigger set on disk must be exactly the committed one -- the same
 * files, each image's bytes and label opening its commitment with its nonce. Throws, naming the
 * first item that does not.
 */
export function openCommitments(
  items: readonly TriggerItem[],
  commitments: CommitmentsFile,
  openings: OpeningsFile,
  paths: KeyPaths,
): void {
  const committed = new Map(commitments.items.map((c) => [c.file, c.commitment]));
  const nonces = new Map(openings.items.map((o) => [o.file, o.nonce]));
  const present = new Set(items.map((i) => i.file));
  for (const c of commitments.items) {
    if (!present.has(c.file)) throw new Error(`${paths.commitments}: committed image ${c.file} is missing from ${paths.triggerSet}`);
  }
  for (const item of items) {
    const commitment = committed.get(item.file);
    if (commitment === undefined) throw new Error(`${paths.triggerSet}: image ${item.file} is not committed in ${paths.commitments}`);
    const nonce = nonces.get(item.file);
    if (nonce === undefined) throw new Error(`${paths.openings}: no opening for ${item.file}`);
    if (item.label >= commitments.classes) {
      throw new Error(`${paths.triggerSet}: label ${item.label} of ${item.file} is outside the committed 0..${commitments.classes - 1}`);
    }
    const nonceBytes = Buffer.from(nonce, 'hex');
    if (nonceBytes.length !== NONCE_BYTES || !opens(commitment, nonceBytes, item.bytes, item.label)) {
      throw new Error(`${item.file}: does not open its commitment (its image bytes, its label or its nonce in ${paths.openings} changed)`);
    }
  }
}
