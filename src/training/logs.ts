// The original's two files in --log_dir: conf_<runname>.txt (the arguments, rewritten at start)
// and log_<runname>.txt (appended after every epoch and every evaluation).
import { appendFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { makeDirs } from '../output-dirs.js';
import { lossAccLine } from './format.js';
import type { Metrics } from '../native/engine.js';
import { meanLoss } from './progress.js';

export class RunLog {
  readonly logFile: string;
  readonly confFile: string;

  constructor(logDir: string, runname: string) {
    this.logFile = join(logDir, `log_${runname}.txt`);
    this.confFile = join(logDir, `conf_${runname}.txt`);
  }

  /** Creates the folder and rewrites the conf file: one `name: value` line per argument, in order. */
  writeConf(lines: readonly (readonly [string, string])[]): void {
    makeDirs(dirname(this.confFile));
    writeFileSync(this.confFile, lines.map(([k, v]) => `${k}: ${v}\n`).join(''));
  }

  /** After a training epoch: `Epoch: <n>` and the Loss/Acc line. */
  epoch(epoch: number, totals: Metrics): void {
    appendFileSync(this.logFile, `Epoch: ${epoch}\n${lossAccLine(meanLoss(totals), totals.correct, totals.total)}\n`);
  }

  /** After an evaluation (test set and trigger set alike): `Test results:` and the Loss/Acc line. */
  evaluation(totals: Metrics): void {
    appendFileSync(this.logFile, `Test results:\n${lossAccLine(meanLoss(totals), totals.correct, totals.total)}\n`);
  }
}
