// The randomness of keygen: an AES-256-CTR keystream. Keyed with 32 bytes from the operating
// system's CSPRNG it is cryptographic (the default, for an owner's secret trigger set); keyed from
// a public seed it is reproducible, which only a demo set may be -- anyone can regenerate it.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';

const CHUNK = 4096;

export class KeyStream {
  private readonly cipher;
  private buffer = Buffer.alloc(0);
  private pos = 0;

  private constructor(key: Uint8Array) {
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** Keyed from the OS CSPRNG (node:crypto randomBytes). */
  static secret(): KeyStream {
    return new KeyStream(randomBytes(32));
  }

  /** Keyed from a public seed: the same seed gives the same stream everywhere. */
  static seeded(seed: number): KeyStream {
    return new KeyStream(createHash('sha256').update(`wmnn/keygen/seed/${seed}`).digest());
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    let filled = 0;
    while (filled < n) {
      if (this.pos === this.buffer.length) {
        this.buffer = this.cipher.update(Buffer.alloc(CHUNK)); // keystream = encrypted zeros
        this.pos = 0;
      }
      const take = Math.min(n - filled, this.buffer.length - this.pos);
      this.buffer.copy(out, filled, this.pos, this.pos + take);
      this.pos += take;
      filled += take;
    }
    return out;
  }

  uint32(): number {
    return this.bytes(4).readUInt32BE(0);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    const b = this.bytes(8);
    return (b.readUInt32BE(0) * 2 ** 21 + (b.readUInt32BE(4) >>> 11)) / 2 ** 53;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Exactly uniform integer in [0, n) (rejection sampling, no modulo bias). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }
}
