// Where the tests find the paper's trigger set (the original repository's 100 images, MIT). It is
// never copied into this repository: a clone without it skips the few tests that need it.
//   1. $WMNN_PAPER_TRIGGER_SET, when set (a wrong path then fails those tests rather than skip them);
//   2. ../shared/trigger_set beside the repository (this project's CI has it there);
//   3. otherwise those tests are skipped, with one line saying how to get the set.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PAPER_TRIGGER_SET_ENV = 'WMNN_PAPER_TRIGGER_SET';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BESIDE_REPO = resolve(REPO_ROOT, '..', 'shared', 'trigger_set');
const FROM_ENV = process.env[PAPER_TRIGGER_SET_ENV];

/** The folder (with pics/ and labels-cifar.txt); meaningful only when PAPER_SKIP is false. */
export const PAPER_TRIGGER_SET = FROM_ENV !== undefined && FROM_ENV !== '' ? resolve(FROM_ENV) : BESIDE_REPO;

/** For node:test's `skip` option: false when the set is there (or named by the variable), else the reason. */
export const PAPER_SKIP: string | false =
  (FROM_ENV !== undefined && FROM_ENV !== '') || existsSync(join(BESIDE_REPO, 'pics'))
    ? false
    : `the paper's trigger set is not here: run scripts/get-paper-trigger-set.sh DIR, then set ${PAPER_TRIGGER_SET_ENV}=DIR`;
