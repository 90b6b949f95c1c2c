// Which files under a folder are models wmnn can read: the suffixes torch.save's files and
// safetensors files go by, found recursively, in a stable order. Whether each really is one is
// for the reader to say, file by file.
import { readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

/** `.t7` (the original's), `.pt`/`.pth` (torch.save's usual names), `.safetensors` (wmnn export). */
export const MODEL_SUFFIXES = ['.t7', '.pt', '.pth', '.safetensors'] as const;

/** How deep the walk goes (links are not followed, so only a real tree this deep reaches it). */
const MAX_DEPTH = 32;

export function isModelFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return MODEL_SUFFIXES.some((s) => lower.endsWith(s) && lower.length > s.length);
}

/**
 * Every file under `dir` whose name ends in a model suffix, sorted by path (code-point order, so
 * the same folder gives the same order everywhere). Symbolic links to folders are not followed;
 * entries that are not regular files (a FIFO named `x.t7`, a link) are listed, and the reader
 * refuses them one by one. Throws when a folder cannot be listed.
 */
export function findModelFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string, depth: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(at, { withFileTypes: true });
    } catch (e) {
      throw new Error(`${at}: cannot list the folder (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    for (const e of entries) {
      const path = join(at, e.name);
      if (e.isDirectory()) {
        if (depth + 1 > MAX_DEPTH) throw new Error(`${path}: folders nested more than ${MAX_DEPTH} deep`);
        walk(path, depth + 1);
      } else if (isModelFileName(e.name)) {
        found.push(path);
      }
    }
  };
  walk(dir, 0);
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
