// Runs a per-file job (read + decode) over many files with several in flight, so the native
// decoders of the thread pool work in parallel while results keep the files' order.
import { availableParallelism } from 'node:os';

/**
 * Files decoded at once: two per core, enough to keep libuv's pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise) busy while other files are being read; each one in flight
 * holds one full-size picture (a 1489x838 photo is 3.7 MB).
 */
export const DECODE_CONCURRENCY = Math.max(2, 2 * availableParallelism());

/**
 * `job` over `items` with at most `limit` in flight; results in the items' order. On failure no
 * new job starts, the ones in flight finish, and the error of the first failing item in order is
 * thrown: the same error a one-by-one loop would throw.
 */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, job: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const errors = new Map<number, unknown>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && errors.size === 0) {
      const index = next++;
      try {
        results[index] = await job(items[index]!, index);
      } catch (error) {
        errors.set(index, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.size > 0) throw errors.get(Math.min(...errors.keys()));
  return results;
}
