// What a long phase (a training epoch, an evaluation) shows while it runs: a live bar on a
// terminal, a plain line every few seconds otherwise, nothing in --json mode. The closing line of
// every phase is the original's `Loss: ... | Acc: ...` text.
import type { Metrics } from '../native/engine.js';
import { formatTime, lossAccLine } from './format.js';

export type ProgressMode = 'tty' | 'lines' | 'silent';

export function meanLoss(t: Metrics): number {
  return t.steps > 0 ? t.lossSum / t.steps : 0;
}

export interface Progress {
  /** Step `done` of `of` has finished; `sample` reads the running totals (a device sync) if needed. */
  step(done: number, of: number, sample: () => Metrics): void;
  /** The phase is over: clear the bar and print its final line. */
  end(totals: Metrics): void;
}

export interface ProgressOptions {
  mode: ProgressMode;
  write?: (text: string) => void;
  columns?: () => number;
  /** Seconds between plain lines in 'lines' mode. */
  every?: number;
}

const BAR_REDRAW_MS = 100;
const CLEAR_TO_EOL = '\x1b[K'; // a shorter redraw must not leave the end of the last one

export function progressMode(json: boolean, stream: NodeJS.WriteStream = process.stdout): ProgressMode {
  return json ? 'silent' : stream.isTTY ? 'tty' : 'lines';
}

/** One phase's display; make a new one per phase. */
export function startProgress(opts: ProgressOptions): Progress {
  const write = opts.write ?? ((s: string) => void process.stdout.write(s));
  const columns = opts.columns ?? (() => process.stdout.columns || 100);
  const begin = performance.now();
  let last = begin;
  let lastDraw = opts.mode === 'tty' ? 0 : begin;
  let lastStepTime = 0;
  let shown = false;

  const summary = (t: Metrics, done: number, of: number, now: number): string => {
    const seconds = (now - begin) / 1000;
    const rate = seconds > 0 ? t.total / seconds : 0;
    return `Step: ${formatTime(lastStepTime)} | Tot: ${formatTime(seconds)} | ${lossAccLine(meanLoss(t), t.correct, t.total)} | ${rate.toFixed(1)} img/s  ${done}/${of}`;
  };

  return {
    step(done, of, sample) {
      const now = performance.now();
      lastStepTime = (now - last) / 1000;
      last = now;
      if (opts.mode === 'tty') {
        if (now - lastDraw < BAR_REDRAW_MS && done < of) return;
        lastDraw = now;
        const text = summary(sample(), done, of, now);
        // ' [' bar '] ' text, leaving the last column free so the terminal never wraps the line.
        const width = columns() - 1 - text.length - 4;
        const filled = Math.min(width - 1, Math.floor((width * done) / of));
        const bar = width >= 10 ? ` [${'='.repeat(filled)}>${'.'.repeat(Math.max(0, width - filled - 1))}] ` : ' ';
        write(`\r${`${bar}${text}`.slice(0, columns() - 1)}${CLEAR_TO_EOL}`);
        shown = true;
      } else if (opts.mode === 'lines') {
        if (now - lastDraw < (opts.every ?? 10) * 1000 && done < of) return;
        if (done === of) return; // the closing line says it
        lastDraw = now;
        write(`  ${summary(sample(), done, of, now)}\n`);
      }
    },
    end(totals) {
      if (opts.mode === 'silent') return;
      if (shown) write(`\r${CLEAR_TO_EOL}`);
      write(`${lossAccLine(meanLoss(totals), totals.correct, totals.total)}\n`);
    },
  };
}
