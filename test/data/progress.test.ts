// The download progress bar: drawn on a terminal, silent otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { progressBar } from '../../src/data/progress.js';

function stream(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  const pass = new PassThrough();
  const chunks: Buffer[] = [];
  pass.on('data', (c: Buffer) => chunks.push(c));
  return { out: Object.assign(pass, { isTTY }) as unknown as NodeJS.WriteStream, text: () => Buffer.concat(chunks).toString() };
}

test('on a terminal: one redrawn line with share and sizes, ended by a newline', async () => {
  const s = stream(true);
  const bar = progressBar('x.tar.gz', 4 * 1024 * 1024, s.out);
  bar.update(1024 * 1024);
  bar.done();
  await new Promise((r) => setImmediate(r));
  assert.match(s.text(), /^\rx\.tar\.gz \[={8} {22}\] {2}25% 1\.0\/4\.0 MiB [\d.]+ MiB\/s\x1b\[K\n$/);
});

test('not a terminal: nothing at all', async () => {
  const s = stream(false);
  const bar = progressBar('x.tar.gz', 100, s.out);
  bar.update(50);
  bar.done();
  await new Promise((r) => setImmediate(r));
  assert.equal(s.text(), '');
});
