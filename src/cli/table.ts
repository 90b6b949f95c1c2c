// A table printed row by row as results come in (verify and predict over many models): fixed
// column widths chosen up front, text from files escaped and shortened to its column.
import { escapeText } from '../quote.js';

export interface Column {
  title: string;
  width: number;
  /** Numbers right-aligned, text left-aligned. */
  align: 'left' | 'right';
}

/** The widest model column; longer paths keep their end (the file name), which tells models apart. */
export const MAX_PATH_COLUMN = 60;

/** `text` escaped and cut to `width` characters, keeping its end. */
function fit(text: string, width: number): string {
  const safe = escapeText(text);
  return safe.length <= width ? safe : `…${safe.slice(safe.length - width + 1)}`;
}

export class StreamTable {
  constructor(private readonly columns: readonly Column[]) {}

  /** The width a column of these paths needs (at most MAX_PATH_COLUMN). */
  static pathWidth(paths: readonly string[], title: string): number {
    return Math.min(MAX_PATH_COLUMN, Math.max(title.length, ...paths.map((p) => escapeText(p).length)));
  }

  private line(cells: readonly string[]): string {
    return this.columns
      .map((c, i) => {
        const v = fit(cells[i] ?? '', c.width);
        return c.align === 'right' ? v.padStart(c.width) : v.padEnd(c.width);
      })
      .join('  ')
      .trimEnd();
  }

  header(): string {
    return this.line(this.columns.map((c) => c.title));
  }

  row(cells: readonly string[]): string {
    return this.line(cells);
  }
}
