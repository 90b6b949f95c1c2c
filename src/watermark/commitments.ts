// Commitments to trigger-set items (the paper's KeyGen): the owner publishes one SHA-256 per
// (image, label) pair and keeps the random nonces secret; opening them later proves the trigger
// set existed, unchanged, when the commitments were published.
//
// Encoding (version 1), every length fixed or prefixed, so no two items share a preimage:
//   SHA-256( "wmnn-commitment-v1" || 0x00 || nonce (32 bytes)
//            || uint64 big-endian byte length of the image file || the image file's bytes
//            || uint32 big-endian label )
// The trigger-set digest of verify records is, in the trigger-set loader's order:
//   SHA-256( "wmnn-trigger-set-v1" || 0x00 || uint64 BE item count
//            || for each item: uint64 BE byte length || image file bytes || uint32 BE label )
import { createHash, timingSafeEqual } from 'node:crypto';

export const COMMITMENT_TAG = 'wmnn-commitment-v1';
export const TRIGGER_SET_TAG = 'wmnn-trigger-set-v1';
export const NONCE_BYTES = 32;

export const COMMITMENT_SCHEME = `SHA-256("${COMMITMENT_TAG}" || 0x00 || nonce[32] || uint64be(len(image file)) || image file bytes || uint32be(label))`;
export const TRIGGER_SET_SCHEME = `SHA-256("${TRIGGER_SET_TAG}" || 0x00 || uint64be(n) || for each image in loader order: uint64be(len(file)) || file bytes || uint32be(label))`;

/** One trigger image as committed: its file's bytes and its integer label. */
export interface TriggerItem {
  /** Path relative to the trigger-set folder, '/'-separated (e.g. `pics/7.png`). */
  file: string;
  bytes: Uint8Array;
  label: number;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function u32(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`label ${n} cannot be committed (0..2^32-1)`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function tag(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
}

/** The commitment (hex) to one image and label under `nonce`. */
export function commit(nonce: Uint8Array, bytes: Uint8Array, label: number): string {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`a nonce has ${NONCE_BYTES} bytes, got ${nonce.length}`);
  return createHash('sha256')
    .update(tag(COMMITMENT_TAG))
    .update(nonce)
    .update(u64(bytes.length))
    .update(bytes)
    .update(u32(label))
    .digest('hex');
}

/** Whether `nonce` opens `commitment` to this image and label (constant-time comparison). */
export function opens(commitment: string, nonce: Uint8Array, bytes: Uint8Array, label: number): boolean {
  const expected = Buffer.from(commitment, 'hex');
  const actual = Buffer.from(commit(nonce, bytes, label), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The digest of a whole trigger set (images and labels, in the loader's order). */
export function triggerSetDigest(items: readonly TriggerItem[]): string {
  const h = createHash('sha256').update(tag(TRIGGER_SET_TAG)).update(u64(items.length));
  for (const item of items) h.update(u64(item.bytes.length)).update(item.bytes).update(u32(item.label));
  return h.digest('hex');
}
