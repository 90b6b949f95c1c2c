// The four kinds of trigger image keygen makes (Zhang et al., AsiaCCS 2018, plus the paper's
// abstract images): abstract pictures; in-distribution images with a text overlaid (content) or
// with one fixed noise pattern added (noise); and images of another dataset (unrelated). Every
// random draw comes from keygen's keystream, so a seeded set is reproducible and a secret one is
// unpredictable. What a kind drew once per set (the overlay, the source images) goes into the
// openings, so an owner can show later how each trigger image was made.
import { IMAGE_SIZE, type ImageSet } from '../data/dataset.js';
import type { KeyStream } from './keystream.js';
import { drawAbstract, TRIGGER_IMAGE_SIZE, type RgbPicture } from './patterns.js';

export const TRIGGER_KINDS = ['abstract', 'content', 'noise', 'unrelated'] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

/** Zhang et al.'s content mark is the word TEST. */
export const DEFAULT_OVERLAY_TEXT = 'TEST';
/** Standard deviation of the noise pattern, in pixel levels (0..255): visible, yet the image stays recognisable. */
export const DEFAULT_NOISE_STD = 32;

/** The kinds that draw their images from a dataset's training split. */
export const needsSource = (kind: TriggerKind): boolean => kind !== 'abstract';

export interface KindOptions {
  kind: TriggerKind;
  /** The training split images come from: in-distribution (content, noise) or another dataset (unrelated). */
  source?: { name: string; images: ImageSet };
  text?: string;
  noiseStd?: number;
}

/** How a set was made, beyond the keystream: kept in the openings. */
export type Construction =
  | { kind: 'abstract' }
  | { kind: 'content'; source: SourceRecord; text: string; x: number; y: number; colour: [number, number, number] }
  | { kind: 'noise'; source: SourceRecord; std: number }
  | { kind: 'unrelated'; source: SourceRecord };

export interface SourceRecord {
  dataset: string;
  split: 'train';
  /** Index in the split of each trigger image's source, in the order the images were drawn. */
  indices: number[];
}

/** Draws the set's trigger pictures one by one, after the per-set draws made when it was created. */
export interface TriggerDrawer {
  next(rng: KeyStream): RgbPicture;
  /** Complete once every picture was drawn (the source indices). */
  construction(): Construction;
}

const PLANE = IMAGE_SIZE * IMAGE_SIZE;

/** Image `i` of a set (channel planes) as an interleaved picture. */
function pictureOf(set: ImageSet, i: number): RgbPicture {
  const rgb = new Uint8Array(PLANE * 3);
  const at = i * 3 * PLANE;
  for (let p = 0; p < PLANE; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = set.images[at + c * PLANE + p]!;
  return { size: IMAGE_SIZE, rgb };
}

/** Source images drawn uniformly without replacement. */
class SourcePicker {
  readonly indices: number[] = [];
  private readonly used = new Set<number>();

  constructor(private readonly source: { name: string; images: ImageSet }) {}

  next(rng: KeyStream): RgbPicture {
    const { count } = this.source.images;
    if (this.used.size >= count) throw new Error(`${this.source.name}: its training split has only ${count} images for the trigger set`);
    let i: number;
    do i = rng.int(count);
    while (this.used.has(i));
    this.used.add(i);
    this.indices.push(i);
    return pictureOf(this.source.images, i);
  }

  record(): SourceRecord {
    return { dataset: this.source.name, split: 'train', indices: [...this.indices] };
  }
}

/**
 * Coverage (0..1) of `text` rendered in an 8-pixel font at (x, y) of a 32x32 picture. jimp is
 * loaded here, not with the module: verify reads the kinds' names (key-files) and never draws.
 */
async function textCoverage(text: string, rng: KeyStream): Promise<{ coverage: Float64Array; x: number; y: number }> {
  const [{ Jimp, loadFont, measureText }, { SANS_8_WHITE }] = await Promise.all([import('jimp'), import('jimp/fonts')]);
  const font = await loadFont(SANS_8_WHITE);
  const width = measureText(font, text);
  const height = font.common.lineHeight;
  const size = TRIGGER_IMAGE_SIZE;
  if (text.length === 0 || width > size)
    throw new Error(`--text '${text}' must be 1 to about 6 characters (it is drawn ${width} pixels wide into ${size})`);
  const x = rng.int(size - width + 1);
  const y = rng.int(size - height + 1);
  const img = new Jimp({ width: size, height: size, color: 0x000000ff });
  img.print({ font, x, y, text });
  const coverage = new Float64Array(size * size);
  for (let p = 0; p < coverage.length; p++) coverage[p] = img.bitmap.data[p * 4]! / 255; // white glyphs on black
  return { coverage, x, y };
}

/** One of the six saturated colours and white (never black, which vanishes on dark images). */
function overlayColour(rng: KeyStream): [number, number, number] {
  const bits = 1 + rng.int(7);
  return [bits & 1 ? 255 : 0, bits & 2 ? 255 : 0, bits & 4 ? 255 : 0];
}

function requireSource(opts: KindOptions): { name: string; images: ImageSet } {
  if (!opts.source) throw new Error(`--kind ${opts.kind} needs --dataset: the images it starts from`);
  return opts.source;
}

/** Makes the per-set draws of a kind (none for abstract, so its stream is the one it always was). */
export async function triggerDrawer(opts: KindOptions, rng: KeyStream): Promise<TriggerDrawer> {
  switch (opts.kind) {
    case 'abstract':
      return { next: (r) => drawAbstract(r), construction: () => ({ kind: 'abstract' }) };
    case 'content': {
      const picker = new SourcePicker(requireSource(opts));
      const text = opts.text ?? DEFAULT_OVERLAY_TEXT;
      const { coverage, x, y } = await textCoverage(text, rng);
      const colour = overlayColour(rng);
      return {
        next: (r) => {
          const p = picker.next(r);
          for (let i = 0; i < coverage.length; i++) {
            const a = coverage[i]!;
            for (let c = 0; c < 3; c++) p.rgb[i * 3 + c] = Math.round((1 - a) * p.rgb[i * 3 + c]! + a * colour[c]!);
          }
          return p;
        },
        construction: () => ({ kind: 'content', source: picker.record(), text, x, y, colour }),
      };
    }
    case 'noise': {
      const picker = new SourcePicker(requireSource(opts));
      const std = opts.noiseStd ?? DEFAULT_NOISE_STD;
      if (!(std > 0 && std <= 255)) throw new Error(`--noise_std must be in (0, 255], got ${std}`);
      const pattern = new Float64Array(PLANE * 3);
      for (let i = 0; i < pattern.length; i++) pattern[i] = std * normal(rng);
      return {
        next: (r) => {
          const p = picker.next(r);
          for (let i = 0; i < pattern.length; i++) p.rgb[i] = Math.max(0, Math.min(255, Math.round(p.rgb[i]! + pattern[i]!)));
          return p;
        },
        construction: () => ({ kind: 'noise', source: picker.record(), std }),
      };
    }
    case 'unrelated': {
      const picker = new SourcePicker(requireSource(opts));
      return { next: (r) => picker.next(r), construction: () => ({ kind: 'unrelated', source: picker.record() }) };
    }
  }
}

/** A standard normal draw (Box-Muller; the first of the pair, so every draw takes the same bytes). */
function normal(rng: KeyStream): number {
  const u = 1 - rng.float(); // (0, 1]: log(u) is finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
}
