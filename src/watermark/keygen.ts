// KeyGen: a fresh trigger set (abstract images, or one of the other kinds) with uniformly random labels, written in the
// original's layout (DIR/pics/<n>.png, DIR/labels-cifar.txt) so that --wm_path DIR works in every
// command, plus commitments.json to publish and openings.json to keep.
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { makeDirs } from '../output-dirs.js';
import { join } from 'node:path';
import { Jimp } from 'jimp';
import { writeFileAtomic } from '../checkpoint/atomic.js';
import { comparePython } from '../data/folder-walk.js';
import { commit, COMMITMENT_SCHEME, NONCE_BYTES, type TriggerItem } from './commitments.js';
import { COMMITMENTS_FILE, keyNotes, OPENINGS_FILE, type CommitmentsFile, type OpeningsFile, type Randomness } from './key-files.js';
import { KeyStream } from './keystream.js';
import type { RgbPicture } from './patterns.js';
import { triggerDrawer, type KindOptions } from './trigger-kinds.js';

/** The original's names: the labels file and the one class folder. */
export const LABELS_FILE = 'labels-cifar.txt';
export const PICS_DIR = 'pics';

export interface KeygenOptions extends KindOptions {
  size: number;
  classes: number;
  /** A public seed: reproducible, so only for demo sets. Absent: the OS CSPRNG. */
  seed?: number;
}

export interface GeneratedItem extends TriggerItem {
  nonce: Buffer;
  commitment: string;
}

export interface GeneratedSet {
  items: GeneratedItem[];
  commitments: CommitmentsFile;
  openings: OpeningsFile;
  labelsText: string;
}

/** PNG, 8-bit RGB (jimp's encoder; deterministic for the same pixels). */
async function encodePng(p: RgbPicture): Promise<Buffer> {
  const img = new Jimp({ width: p.size, height: p.size });
  const rgba = img.bitmap.data;
  for (let i = 0; i < p.size * p.size; i++) {
    rgba[i * 4] = p.rgb[i * 3]!;
    rgba[i * 4 + 1] = p.rgb[i * 3 + 1]!;
    rgba[i * 4 + 2] = p.rgb[i * 3 + 2]!;
    rgba[i * 4 + 3] = 255;
  }
  return img.getBuffer('image/png', { colorType: 2 });
}

/** A label as numpy.savetxt writes it (`%.18e`): `6.000000000000000000e+00`. */
export function numpyLabel(label: number): string {
  return label.toExponential(18).replace(/e([+-])(\d)$/, 'e$10$2');
}

export async function generateTriggerSet(opts: KeygenOptions): Promise<GeneratedSet> {
  const { size, classes, seed } = opts;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`--size must be a positive integer, got ${size}`);
  if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`--classes must be an integer >= 2, got ${classes}`);
  const randomness: Randomness = seed === undefined ? { kind: 'crypto' } : { kind: 'seeded', seed };
  const rng = seed === undefined ? KeyStream.secret() : KeyStream.seeded(seed);
  const drawer = await triggerDrawer(opts, rng);
  // Files named 1..N like the original's; drawn in the loader's order (names sorted as strings),
  // which is also the order of the labels file.
  const names = Array.from({ length: size }, (_, i) => `${i + 1}.png`).sort(comparePython);
  const items: GeneratedItem[] = [];
  for (const name of names) {
    const bytes = await encodePng(drawer.next(rng));
    const label = rng.int(classes);
    const nonce = rng.bytes(NONCE_BYTES);
    items.push({ file: `${PICS_DIR}/${name}`, bytes, label, nonce, commitment: commit(nonce, bytes, label) });
  }
  const notes = keyNotes(randomness);
  return {
    items,
    labelsText: items.map((it) => `${numpyLabel(it.label)}\n`).join(''),
    commitments: {
      format: 'wmnn-commitments',
      version: 1,
      scheme: COMMITMENT_SCHEME,
      classes,
      size,
      labels_file: LABELS_FILE,
      kind: opts.kind,
      randomness,
      note: notes.commitments,
      items: items.map((it) => ({ file: it.file, commitment: it.commitment })),
    },
    openings: {
      format: 'wmnn-openings',
      version: 1,
      randomness,
      construction: drawer.construction(),
      note: notes.openings,
      items: items.map((it) => ({ file: it.file, nonce: it.nonce.toString('hex') })),
    },
  };
}

const OUTPUTS = [PICS_DIR, LABELS_FILE, COMMITMENTS_FILE, OPENINGS_FILE];

/**
 * An empty (or new) folder for the set. With `force`, a previous keygen output there is removed;
 * any other sub-folder is refused, since the trigger-set loader would read it as images too.
 */
function prepareDir(dir: string, force: boolean): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`--out ${dir}: exists and is not a folder`);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!force) throw new Error(`--out ${dir}: not empty (use --force to replace a trigger set there)`);
    for (const name of OUTPUTS) rmSync(join(dir, name), { recursive: true, force: true });
    const others = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory());
    if (others.length > 0)
      throw new Error(
        `--out ${dir}: holds other folders (${others.join(', ')}) that would be read as trigger images; choose an empty folder`,
      );
  }
  makeDirs(join(dir, PICS_DIR));
}

const json = (v: unknown): Buffer => Buffer.from(`${JSON.stringify(v, null, 2)}\n`);

export function writeTriggerSet(dir: string, set: GeneratedSet, force: boolean): void {
  prepareDir(dir, force);
  for (const it of set.items) writeFileSync(join(dir, it.file), it.bytes);
  writeFileAtomic(join(dir, LABELS_FILE), [Buffer.from(set.labelsText)]);
  writeFileAtomic(join(dir, COMMITMENTS_FILE), [json(set.commitments)]);
  // The secret half is created readable by its owner only (prepareDir removed any old one).
  const secret = set.openings.randomness.kind === 'crypto';
  writeFileSync(join(dir, OPENINGS_FILE), json(set.openings), { mode: secret ? 0o600 : 0o644, flag: 'wx' });
}
