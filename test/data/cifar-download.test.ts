// Downloading CIFAR against a local HTTP server serving an archive built here: a good archive is
// installed and used; a wrong md5, a cut or stalled transfer, an unreachable or missing URL leave
// nothing that could pass as a dataset.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { archiveUrl, CIFAR_URL_ENV, loadCifar, type CifarOptions } from '../../src/data/cifar.js';
import { download } from '../../src/data/download.js';
import { runPython, referenceScript } from '../helpers/python.js';

const ARCHIVE = 'cifar-10-python.tar.gz';

let work = '';
let archive = '';
let md5 = '';
let expected: { labels: number[]; images: Uint8Array };
let server: Server;
let base = '';
const requests = new Map<string, number>();

function md5Of(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'wmnn-download-'));
  const staging = join(work, 'staging');
  const made = runPython([referenceScript('data_make_cifar.py'), staging, 'cifar10', 'python', '7']);
  const out = JSON.parse(made) as Record<'test', { images: string; labels: number[] }>;
  expected = { labels: out.test.labels, images: new Uint8Array(Buffer.from(out.test.images, 'base64')) };
  archive = join(work, ARCHIVE);
  await tar.c({ gzip: true, cwd: staging, file: archive }, ['cifar-10-batches-py']);
  const body = readFileSync(archive);
  md5 = md5Of(body);
  server = createServer((req, res) => {
    const path = req.url ?? '';
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (path.endsWith(`/${ARCHIVE}`) && path.startsWith('/mirror/')) {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } else if (path.startsWith('/cut/')) {
      // Promise the whole file, send half, then drop the connection.
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
    } else if (path.startsWith('/stall/')) {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 1000));
      setTimeout(() => res.socket?.destroy(), 3000).unref();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(work, { recursive: true, force: true });
});

function freshRoot(): string {
  return mkdtempSync(join(work, 'root-'));
}

function options(root: string, extra: Partial<CifarOptions> = {}): CifarOptions {
  return { root, dataset: 'cifar10', split: 'test', download: true, archiveMd5: md5, verify: false, log: () => {}, ...extra };
}

async function failure(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => assert.fail('expected an error'),
    (e: Error) => e.message,
  );
}

describe('download', () => {
  test('good archive: fetched once, installed, used; nothing else left in root', async () => {
    const root = freshRoot();
    const url = `${base}/mirror/`;
    const lines: string[] = [];
    const set = await loadCifar(options(root, { url, log: (l) => lines.push(l) }));
    assert.deepEqual([...set.labels], expected.labels);
    assert.ok(Buffer.compare(set.images, expected.images) === 0);
    assert.deepEqual(readdirSync(root), ['cifar-10-batches-py']);
    assert.equal(requests.get(`/mirror/${ARCHIVE}`), 1);
    assert.match(lines.join('\n'), new RegExp(`Downloading ${base}/mirror/${ARCHIVE} to ${root}`));
    // Present now: no second request.
    await loadCifar(options(root, { url, split: 'train' }));
    assert.equal(requests.get(`/mirror/${ARCHIVE}`), 1);
  });

  test(`${CIFAR_URL_ENV} as a full archive URL`, async () => {
    const root = freshRoot();
    process.env[CIFAR_URL_ENV] = `${base}/mirror/env/${ARCHIVE}`;
    try {
      const set = await loadCifar(options(root));
      assert.equal(set.count, expected.labels.length);
      assert.equal(requests.get(`/mirror/env/${ARCHIVE}`), 1);
    } finally {
      delete process.env[CIFAR_URL_ENV];
    }
  });

  test('wrong md5: an error, and nothing usable left behind', async () => {
    const root = freshRoot();
    const message = await failure(loadCifar(options(root, { url: `${base}/mirror/`, archiveMd5: 'f'.repeat(32) })));
    assert.match(message, new RegExp(`the file's md5 is ${md5}, not f{32} .*nothing was installed`));
    assert.match(message, /To install CIFAR-10 by hand/);
    assert.deepEqual(readdirSync(root), []);
    // And a later run without download does not take anything for a dataset.
    assert.match(await failure(loadCifar(options(root, { download: false }))), /CIFAR-10 is not in/);
  });

  test('transfer cut mid-body: an error, nothing left', async () => {
    const root = freshRoot();
    const message = await failure(loadCifar(options(root, { url: `${base}/cut/` })));
    assert.match(message, /Cannot download CIFAR-10 from .*\/cut\/cifar-10-python\.tar\.gz: transfer failed/);
    assert.deepEqual(readdirSync(root), []);
    assert.equal(requests.get(`/cut/${ARCHIVE}`), 1);
  });

  test('unreachable server, missing file: errors with the manual steps', async () => {
    const root = freshRoot();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const offline = await failure(loadCifar(options(root, { url: `http://127.0.0.1:${port}/` })));
    const official = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (md5 c58f30108f718f92721af3b95e74349a)';
    assert.ok(offline.includes(`unreachable (ECONNREFUSED). To install CIFAR-10 by hand: download ${official}`), offline);
    const missing = await failure(loadCifar(options(root, { url: `${base}/nothing/` })));
    assert.match(missing, /HTTP 404/);
    assert.deepEqual(readdirSync(root), []);
  });

  test('an archive already in root (or a local path as the URL) is used without the network', async () => {
    const root = freshRoot();
    copyFileSync(archive, join(root, ARCHIVE));
    const before = requests.size;
    const set = await loadCifar(options(root, { url: `${base}/never/` }));
    assert.equal(set.count, expected.labels.length);
    assert.equal(requests.size, before);
    const other = freshRoot();
    const local = await loadCifar(options(other, { url: work }));
    assert.equal(local.count, expected.labels.length);
    // A wrong file under the archive's name is ignored (and said so), then the download happens.
    const third = freshRoot();
    writeFileSync(join(third, ARCHIVE), 'partial download');
    const lines: string[] = [];
    await loadCifar(options(third, { url: `${base}/mirror/third/`, log: (l) => lines.push(l) }));
    assert.match(lines.join('\n'), /Ignoring .*cifar-10-python\.tar\.gz: md5 [0-9a-f]{32}, not/);
    assert.equal(requests.get(`/mirror/third/${ARCHIVE}`), 1);
  });

  test('a right-md5 file that is no tar.gz, or lacks files, installs nothing', async () => {
    const root = freshRoot();
    const junk = join(work, 'junk');
    mkdirSync(junk, { recursive: true });
    writeFileSync(join(junk, ARCHIVE), 'not a gzip stream');
    const notGzip = await failure(loadCifar(options(root, { url: junk, archiveMd5: md5Of(Buffer.from('not a gzip stream')) })));
    assert.match(notGzip, /cannot unpack/);
    const partial = join(work, 'partial');
    mkdirSync(join(partial, 'cifar-10-batches-py'), { recursive: true });
    writeFileSync(join(partial, 'cifar-10-batches-py', 'test_batch'), 'x');
    await tar.c({ gzip: true, cwd: partial, file: join(partial, ARCHIVE) }, ['cifar-10-batches-py']);
    const lacks = await failure(loadCifar(options(root, { url: partial, archiveMd5: md5Of(readFileSync(join(partial, ARCHIVE))) })));
    assert.match(lacks, /the archive lacks cifar-10-batches-py\/data_batch_1, .*data_batch_5; nothing was installed/);
    assert.deepEqual(readdirSync(root), []);
  });

  test('a FIFO as the archive in root is passed over; as the archive a URL names, refused at once', { timeout: 20_000 }, async () => {
    const root = freshRoot();
    execFileSync('mkfifo', [join(root, ARCHIVE)]);
    const set = await loadCifar(options(root, { url: `${base}/mirror/fifo/` }));
    assert.equal(set.count, expected.labels.length);
    assert.equal(requests.get(`/mirror/fifo/${ARCHIVE}`), 1);
    const fifo = join(freshRoot(), ARCHIVE);
    execFileSync('mkfifo', [fifo]);
    const message = await failure(loadCifar(options(freshRoot(), { url: fifo })));
    assert.match(message, /^Cannot download CIFAR-10 from file:\/\/\S*cifar-10-python\.tar\.gz: is a FIFO, not a regular file\./);
    const viaUrl = await failure(download({ url: `file://${fifo}`, file: join(freshRoot(), 'x'), label: 'x' }));
    assert.equal(viaUrl, 'is a FIFO, not a regular file');
  });

  test('a stalled transfer is abandoned after the stall timeout', async () => {
    const file = join(freshRoot(), 'x');
    const message = await failure(download({ url: `${base}/stall/${ARCHIVE}`, file, label: 'x', stallMs: 300 }));
    assert.match(message, /transfer failed: no data for 0\.3 s/);
  });
});

test('archiveUrl: base folders get the archive name, archive URLs stay, paths become file URLs', () => {
  assert.equal(archiveUrl('https://m.example/cifar', ARCHIVE), `https://m.example/cifar/${ARCHIVE}`);
  assert.equal(archiveUrl('https://m.example/cifar/', ARCHIVE), `https://m.example/cifar/${ARCHIVE}`);
  assert.equal(archiveUrl('https://m.example/x/c10.tgz', ARCHIVE), 'https://m.example/x/c10.tgz');
  assert.equal(archiveUrl('/data/mirror', ARCHIVE), `file:///data/mirror/${ARCHIVE}`);
  assert.equal(archiveUrl('/data/mirror/cifar-10-python.tar.gz', 'other.tar.gz'), `file:///data/mirror/${ARCHIVE}`);
});
