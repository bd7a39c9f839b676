import { createHmac } from 'node:crypto';
import { crc32 } from '../common/crypto/crc32';
import { randomBase62, toBase62 } from '../common/crypto/base62';

const SECRET_LENGTH = 43; // 43 base62 characters ≈ 256 bits
const CHECKSUM_LENGTH = 6; // CRC-32 fits in 6 base62 characters

/**
 * API keys look like `kw_<43 random base62><6 base62 CRC-32>`. The checksum lets a mistyped
 * or made-up key be refused before any database work, and lets secret scanners spot ours.
 */
export class KeyFormat {
  private readonly shape: RegExp;

  constructor(
    readonly prefix: string,
    private readonly pepper: string,
  ) {
    this.shape = new RegExp(`^${prefix}_[0-9A-Za-z]{${SECRET_LENGTH + CHECKSUM_LENGTH}}$`);
  }

  generate(): string {
    const body = `${this.prefix}_${randomBase62(SECRET_LENGTH)}`;
    return body + toBase62(crc32(body), CHECKSUM_LENGTH);
  }

  /** True when the key has our shape and its checksum matches. */
  isWellFormed(key: string): boolean {
    return this.hasShape(key) && this.checksumMatches(key);
  }

  /** Prefix, length and alphabet only: the cheapest test, done before anything else. */
  hasShape(key: string): boolean {
    return this.shape.test(key);
  }

  checksumMatches(key: string): boolean {
    return toBase62(crc32(key.slice(0, -CHECKSUM_LENGTH)), CHECKSUM_LENGTH) === key.slice(-CHECKSUM_LENGTH);
  }

  /** What is stored: HMAC-SHA256 with the pepper, so a database dump alone cannot test guesses. */
  hash(key: string): string {
    return createHmac('sha256', this.pepper).update(key).digest('hex');
  }

  /** Shown in lists so a person can tell keys apart: prefix, first 4 and last 4 of the secret. */
  hint(key: string): string {
    const secret = key.slice(this.prefix.length + 1);
    return `${this.prefix}_${secret.slice(0, 4)}…${secret.slice(-4)}`;
  }
}
