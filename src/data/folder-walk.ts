// The image-folder layout both the trigger set and `--dataset imagefolder` use, listed in exactly
// the order the original's ImageFolderCustomClass (and torchvision's make_dataset) produce:
// class folders sorted by name; inside each, os.walk's (root, dirs, files) tuples sorted, i.e.
// directories by their full path, and within one directory the file names sorted as strings.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The original's IMG_EXTENSIONS, matched case-insensitively on the file name's end. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm'] as const;

export interface ImageFile {
  path: string;
  /** Index of the class folder in sorted order. */
  classIndex: number;
}

export interface FolderListing {
  classes: string[];
  files: ImageFile[];
}

/** Python sorts str by code point; UTF-8 byte order is code point order (JS's < compares UTF-16 units). */
export function comparePython(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function isImageFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory(); // follows symlinks, like os.path.isdir
  } catch {
    return false;
  }
}

interface WalkEntry {
  root: string;
  files: string[];
}

/**
 * os.walk(top) with followlinks=False: a symlink to a directory is listed but not entered;
 * everything that is not a directory counts as a file; unreadable directories are skipped.
 */
async function walk(top: string, out: WalkEntry[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(top, { withFileTypes: true });
  } catch {
    return;
  }
  const files: string[] = [];
  const subdirs: string[] = [];
  for (const entry of entries) {
    const path = join(top, entry.name);
    if (entry.isDirectory()) subdirs.push(path);
    else if (entry.isSymbolicLink() && (await isDirectory(path))) continue;
    else files.push(entry.name);
  }
  out.push({ root: top, files });
  for (const dir of subdirs) await walk(dir, out);
}

/** Lists the class folders of `root` and their image files in the original's order. */
export async function listImageFolder(root: string): Promise<FolderListing> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (error) {
    throw new Error(`${root}: cannot read the image folder: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const classes: string[] = [];
  for (const name of names.sort(comparePython)) {
    if (await isDirectory(join(root, name))) classes.push(name);
  }
  if (classes.length === 0) throw new Error(`${root}: no class folders (expected ${root}/<class>/<image>)`);
  const files: ImageFile[] = [];
  for (const [classIndex, name] of classes.entries()) {
    const entries: WalkEntry[] = [];
    await walk(join(root, name), entries);
    entries.sort((a, b) => comparePython(a.root, b.root));
    for (const { root: dir, files: names } of entries) {
      for (const file of names.sort(comparePython)) {
        if (isImageFileName(file)) files.push({ path: join(dir, file), classIndex });
      }
    }
  }
  if (files.length === 0) {
    throw new Error(`${root}: found 0 images in the class folders (extensions: ${IMAGE_EXTENSIONS.join(' ')})`);
  }
  return { classes, files };
}
