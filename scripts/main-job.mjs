// `npm start`: the watermark pipeline end to end on the built-in synthetic data, on whatever
// device this machine has: mark (train with the trigger set), predict on the test and trigger
// sets, verify ownership, attack (fine-tune the last layer), verify again, summarise.
// Everything it writes goes to ./run/ (WMNN_RUN_DIR to change it).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const RUN = resolve(process.env.WMNN_RUN_DIR ?? join(ROOT, 'run'));
const WMNN = join(ROOT, 'bin', 'wmnn.js');
mkdirSync(RUN, { recursive: true });

// Small enough for a 2-core CPU in a few minutes; bf16 autocast doubles CPU speed here.
// lr 0.01: the original's 0.1 diverges in the first dozens of steps of a fresh model on little data.
const DATA = ['--dataset', 'synthetic', '--synthetic_train', '2000', '--synthetic_test', '500', '--amp', 'bf16'];
const OUT = ['--save_dir', join(RUN, 'checkpoint'), '--log_dir', join(RUN, 'log')];
const MODEL = join(RUN, 'checkpoint', 'model.t7');
const ATTACKED = join(RUN, 'checkpoint', 'ftllfinetune.t7');

function step(title, args, { json = false, allow = [0] } = {}) {
  console.log(`\n=== ${title}\n$ wmnn ${args.join(' ')}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [WMNN, ...args, ...(json ? ['--json'] : [])], { cwd: ROOT, stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8' });
  if (!allow.includes(r.status)) {
    console.error(`wmnn ${args[0]} failed (exit ${r.status})`);
    process.exit(1);
  }
  const seconds = (performance.now() - t0) / 1000;
  const result = json ? JSON.parse(r.stdout) : undefined;
  if (json) console.log(`(${seconds.toFixed(1)} s)`);
  return { status: r.status, result, seconds };
}

const t0 = performance.now();
step('Mark: train with the demo trigger set appended to every batch', ['train', ...DATA, ...OUT, '--wmtrain', '--wm_batch_size', '20', '--max_epochs', '4', '--lr', '0.01', '--lradj', '3', '--seed', '0']);
const test = step('Predict: the test set', ['predict', '--model_path', MODEL, '--dataset', 'synthetic', '--synthetic_test', '500', '--amp', 'bf16'], { json: true });
const wm = step('Predict: the trigger set', ['predict', '--model_path', MODEL, '--testwm', '--amp', 'bf16'], { json: true });
const verified = step('Verify: open the commitments, count agreements, binomial p-value', ['verify', '--model_path', MODEL, '--out', join(RUN, 'verify-marked.json')], { json: true, allow: [0, 1] });
const attack = step('Attack: fine-tune the last layer (FTLL) on the training data', ['fine-tune', ...DATA, ...OUT, '--load_path', MODEL, '--runname', 'ftll', '--max_epochs', '1', '--lr', '0.01', '--seed', '0'], { json: true });
const after = step('Verify the attacked model', ['verify', '--model_path', ATTACKED, '--out', join(RUN, 'verify-attacked.json')], { json: true, allow: [0, 1] });

const pct = (x) => `${x.toFixed(1)}%`;
const last = attack.result.epochs.at(-1);
console.log(`
=== Summary (${((performance.now() - t0) / 1000).toFixed(0)} s, files in ${RUN})
watermarked model   test ${pct(test.result.accuracy)}   trigger set ${pct(wm.result.accuracy)}   ${verified.result.decision}
after FTLL attack   test ${pct(last.test.accuracy)}   trigger set ${pct(last.trigger.accuracy)}   ${after.result.decision}
logs: ${join(RUN, 'log')}  (the original's conf_*.txt / log_*.txt)`);
