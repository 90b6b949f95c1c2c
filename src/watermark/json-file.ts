// The JSON files wmnn reads back (commitments, openings, calibrations): an object or a one-line
// error naming the file, and typed fields with the same kind of message.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** A JSON object read from a file, with the SHA-256 of the very bytes parsed (what a record cites). */
export interface JsonFile {
  value: Record<string, unknown>;
  sha256: string;
}

export function readJsonFile(path: string): JsonFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new Error(`${path}: not JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${path}: expected a JSON object`);
  return { value: value as Record<string, unknown>, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export const readJson = (path: string): Record<string, unknown> => readJsonFile(path).value;

export function field<T>(path: string, obj: Record<string, unknown>, name: string, ok: (v: unknown) => v is T, what: string): T {
  const v = obj[name];
  if (!ok(v)) throw new Error(`${path}: "${name}" must be ${what}`);
  return v;
}

export const isString = (v: unknown): v is string => typeof v === 'string';
export const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
export const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
