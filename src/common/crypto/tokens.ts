import { createHash, randomBytes } from 'node:crypto';

/** A 256-bit random token, URL-safe. */
export function randomToken(prefix?: string): string {
  const token = randomBytes(32).toString('base64url');
  return prefix ? `${prefix}_${token}` : token;
}

/** What is stored for a high-entropy token: its SHA-256, hex. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
