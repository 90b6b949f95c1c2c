// Printing text that came from a file. A checkpoint, an image folder or a labels file may be
// hostile, and its names end up in errors and tables: control bytes would drive the terminal
// (ESC sequences recolour or clear it, CR overprints a line) and a 200 MB name would be echoed
// whole. Everything printed from a file goes through one of these.

/** How much of a file's text one message quotes. */
export const MAX_EXCERPT = 64;
/** The longest error line built from a file's content. */
export const MAX_LINE = 400;

// C0 and C1 controls, DEL, and the invisible characters that reorder or break lines (bidi
// overrides and isolates, line/paragraph separators, zero-width marks, BOM), plus lone surrogates.
const UNSAFE = /[\0-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]|\p{Cs}/gu;
const UNSAFE_OR_BACKSLASH = /[\0-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\\]|\p{Cs}/gu;
// What JSON.stringify leaves raw: everything above but the C0 controls (escaped already; the
// newlines of indentation are its own) and lone surrogates (escaped already).
const UNSAFE_IN_JSON = /[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const UNSAFE_OR_QUOTE = /[\0-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\\']|\p{Cs}/gu;

function escapeChar(c: string): string {
  if (c === '\\' || c === "'") return `\\${c}`;
  const n = c.charCodeAt(0);
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** `text` with every unsafe character as `\xNN` or `\uNNNN`, and `\` as `\\`, so the escape is unambiguous. */
export function escapeText(text: string): string {
  return text.replace(UNSAFE_OR_BACKSLASH, escapeChar);
}

function cut(text: string, max: number): { head: string; rest: number } {
  return text.length <= max ? { head: text, rest: 0 } : { head: text.slice(0, max), rest: text.length - max };
}

/** An escaped excerpt: at most `max` characters of `text`, then how many were left out. */
export function excerpt(text: string, max = MAX_EXCERPT): string {
  const { head, rest } = cut(text, max);
  return `${escapeText(head)}${rest > 0 ? `…(${rest} more)` : ''}`;
}

/** A file's text in single quotes for a message: `'model/data/0'`, escaped and shortened like `excerpt`. */
export function quote(text: string, max = MAX_EXCERPT): string {
  const { head, rest } = cut(text, max);
  return `'${head.replace(UNSAFE_OR_QUOTE, escapeChar)}'${rest > 0 ? `…(${rest} more)` : ''}`;
}

/**
 * The last guard before a line reaches the terminal: newlines folded into spaces, any unsafe
 * character left escaped (backslashes are kept as they are, since the text may already hold
 * escapes), at most `max` characters.
 */
export function safeLine(text: string, max = MAX_LINE): string {
  const folded = text.replace(/\s*[\r\n]+\s*/g, ' ');
  const { head, rest } = cut(folded, max);
  return `${head.replace(UNSAFE, escapeChar)}${rest > 0 ? `…(${rest} more)` : ''}`;
}

/**
 * JSON for a terminal: JSON.stringify escapes C0 controls but leaves DEL, C1 controls and the
 * invisible characters above raw, which are valid JSON either way; these become `\uNNNN` too.
 */
export function terminalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
