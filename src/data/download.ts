// Fetches an archive to a file while hashing it, and unpacks a tar.gz into a folder. No retries
// or caching here: the CIFAR module decides what to fetch and where the result may go.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { progressBar } from './progress.js';
import { openRegularFile } from './regular-file.js';

/** No byte for this long (connecting included) aborts the transfer. */
export const DEFAULT_STALL_MS = 60_000;

export interface DownloadOptions {
  url: string;
  /** Where the bytes go; the caller owns (and cleans up) the folder it is in. */
  file: string;
  /** Label of the progress bar. */
  label: string;
  stallMs?: number;
}

export interface Downloaded {
  md5: string;
  bytes: number;
}

/** A URL or local path (no scheme) as a URL; a local path is resolved against the working folder. */
export function toUrl(location: string): URL {
  return /^[a-z][a-z0-9+.-]*:/i.test(location) ? new URL(location) : pathToFileURL(resolve(location));
}

/** The URL of `name` inside the folder `base` (a URL or a local path; a missing final / is added). */
export function urlIn(base: string | URL, name: string): string {
  const url = typeof base === 'string' ? toUrl(base) : new URL(base.href);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return new URL(name, url).href;
}

/** A download that failed before any byte of a reply arrived: the network, not the file. */
export class UnreachableError extends Error {}

/** A transform that hashes, counts, reports progress and enforces the stall timeout. */
function meter(total: number | undefined, label: string, stallMs: number, abort: AbortController) {
  const hash = createHash('md5');
  const progress = progressBar(label, total);
  let bytes = 0;
  let timer = setTimeout(() => abort.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
      hash.update(chunk);
      bytes += chunk.length;
      progress.update(bytes);
      callback(null, chunk);
    },
  });
  return {
    stream,
    finish(): Downloaded {
      clearTimeout(timer);
      progress.done();
      return { md5: hash.digest('hex'), bytes };
    },
    stop(): void {
      clearTimeout(timer);
      progress.done();
    },
  };
}

/** Streams `url` (http:, https: or file:) into `file`; throws on any short or failed transfer. */
export async function download({ url, file, label, stallMs = DEFAULT_STALL_MS }: DownloadOptions): Promise<Downloaded> {
  const parsed = new URL(url);
  const abort = new AbortController();
  let body: Readable;
  let total: number | undefined;
  if (parsed.protocol === 'file:') {
    // A FIFO or a device as the source would block or never end: only a regular file is read.
    const handle = await openRegularFile(fileURLToPath(parsed));
    total = (await handle.stat()).size;
    body = handle.createReadStream();
  } else if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
    const connectTimer = setTimeout(() => abort.abort(new Error(`no reply for ${stallMs / 1000} s`)), stallMs);
    let response: Response;
    try {
      response = await fetch(url, { signal: abort.signal, redirect: 'follow' });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(cause?.code ?? cause?.message ?? (error as Error).message);
    } finally {
      clearTimeout(connectTimer);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    }
    const length = Number(response.headers.get('content-length'));
    total = Number.isFinite(length) && length > 0 ? length : undefined;
    body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  } else {
    throw new Error(`unsupported URL scheme ${parsed.protocol} (use https:, http: or file:)`);
  }
  const m = meter(total, label, stallMs, abort);
  abort.signal.addEventListener('abort', () => body.destroy(abort.signal.reason as Error));
  try {
    await pipeline(body, m.stream, createWriteStream(file));
  } catch (error) {
    m.stop();
    throw new Error(`transfer failed: ${(abort.signal.reason as Error | undefined)?.message ?? (error as Error).message}`);
  }
  const result = m.finish();
  if (total !== undefined && result.bytes !== total) {
    throw new Error(`transfer failed: received ${result.bytes} of ${total} bytes`);
  }
  return result;
}

/** The md5 of a regular file (anything else is refused, as openRegularFile does). */
export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of (await openRegularFile(path)).createReadStream()) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Unpacks a .tar.gz into `folder`; only plain files and folders, no links, nothing outside it. */
export async function extractTarGz(archive: string, folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await tar.x({
    file: archive,
    cwd: folder,
    strict: true,
    filter: (_path, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory' || entry.type === 'OldFile'),
  });
}
