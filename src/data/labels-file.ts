// The trigger-set labels file, read as the original reads it: numpy.loadtxt (whitespace-separated
// floats, '#' comments, blank lines skipped), then int(label) -- which truncates toward zero.
import { readRegularFile } from './regular-file.js';

const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export interface Label {
  /** int(float(text)): may be any integer, even out of range; the caller checks the range. */
  value: number;
  /** 1-based line number, for messages. */
  line: number;
}

/** One label per non-blank line; errors name the file and line. */
export function parseLabels(text: string, path: string): Label[] {
  const labels: Label[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.split('#')[0]!.trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    if (fields.length !== 1) throw new Error(`${path}:${index + 1}: expected one label per line, found ${fields.length} values`);
    const field = fields[0]!;
    if (!FLOAT.test(field)) throw new Error(`${path}:${index + 1}: not a number: ${JSON.stringify(field)}`);
    labels.push({ value: Math.trunc(Number(field)) + 0, line: index + 1 }); // + 0: no -0
  }
  return labels;
}

export async function readLabels(path: string): Promise<Label[]> {
  let text: string;
  try {
    text = (await readRegularFile(path)).toString('utf8');
  } catch (error) {
    throw new Error(`${path}: cannot read the labels file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseLabels(text, path);
}
