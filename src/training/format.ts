// Numbers and lines exactly as the original's Python prints them: '%.3f' (round half to even on
// the exact binary value), str(float) for the conf file, and its progress-bar time format.

/** Python's '%.<digits>f' % x. JavaScript's toFixed rounds exact ties up; Python rounds them to even. */
export function pyFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const exact = Math.abs(x).toFixed(100); // every double >= 1e-30 has a finite expansion within 100 digits
  const dot = exact.indexOf('.');
  const kept = exact.slice(0, dot + 1 + digits);
  const rest = exact.slice(dot + 1 + digits);
  const tie = rest.length > 0 && rest[0] === '5' && /^50*$/.test(rest);
  const evenTie = tie && Number(kept.replace('.', '').slice(-1)) % 2 === 0;
  const out = evenTie ? kept.replace(/\.$/, '') : Math.abs(x).toFixed(digits);
  return x < 0 || Object.is(x, -0) ? `-${out}` : out; // Python keeps the sign of -0.0001 -> '-0.000'
}

/** Python's str(float); shared with the checkpoint reader's messages. */
export { pyFloat } from '../python-repr.js';

/** The original's summary line: `Loss: 1.234 | Acc: 55.000% (55/100)`. */
export function lossAccLine(meanLoss: number, correct: number, total: number): string {
  const acc = total > 0 ? (100 * correct) / total : 0;
  return `Loss: ${pyFixed(meanLoss, 3)} | Acc: ${pyFixed(acc, 3)}% (${correct}/${total})`;
}

/** The original progress bar's time format: at most two units, e.g. `1m3s`, `12ms`, `0ms`. */
export function formatTime(seconds: number): string {
  let rest = seconds;
  const days = Math.trunc(rest / 86400);
  rest -= days * 86400;
  const hours = Math.trunc(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.trunc(rest / 60);
  rest -= minutes * 60;
  const secs = Math.trunc(rest);
  const millis = Math.trunc((rest - secs) * 1000);
  const parts: string[] = [];
  for (const [value, unit] of [
    [days, 'D'],
    [hours, 'h'],
    [minutes, 'm'],
    [secs, 's'],
    [millis, 'ms'],
  ] as const) {
    if (value > 0 && parts.length < 2) parts.push(`${value}${unit}`);
  }
  return parts.length > 0 ? parts.join('') : '0ms';
}
