// `npm start`: the paper's experiment on real images, sized for this machine. It runs
// `wmnn reproduce` on Fashion-MNIST (Debian's dataset-fashion-mnist, installed by set-up) with
// the public demo trigger set: a baseline, the FromScratch and PreTrained watermarked models, the
// four fine-tuning attacks on each, verify on every model, and a report. On a CPU it trains on a
// subset that ends within about 10 minutes on 2 cores in float32; on CUDA on the full set. The
// precision is `--amp auto` (bf16 only where the hardware runs it natively).
// Everything goes to ./run/ (WMNN_RUN_DIR to change it); extra arguments go to reproduce.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const RUN = resolve(process.env.WMNN_RUN_DIR ?? join(ROOT, 'run'));
const args = [
  'reproduce',
  '--dataset',
  'fashion-mnist',
  '--wm_path',
  join(ROOT, 'data', 'trigger_set'),
  '--amp',
  'auto',
  '--out',
  RUN,
  ...process.argv.slice(2),
];
console.log(`$ wmnn ${args.join(' ')}`);
const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'wmnn.js'), ...args], { cwd: ROOT, stdio: 'inherit' });
process.exit(r.status ?? 1);
