import { createHmac, randomInt } from 'node:crypto';

export const RECOVERY_CODE_COUNT = 10;

/** No 0/O, 1/I/L, so a code copied from paper is read back right. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUPS = 3;
const GROUP_LENGTH = 4;

/**
 * Ten codes of 12 characters from a 31-character alphabet: about 59 bits each, shown as
 * `xxxx-xxxx-xxxx`. Drawn with randomInt (CSPRNG, no modulo bias).
 */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () =>
    Array.from({ length: GROUPS }, () =>
      Array.from({ length: GROUP_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join(''),
    ).join('-'),
  );
}

/** What a person typed, in the form codes are hashed in: case, spaces and dashes do not matter. */
export function normalizeRecoveryCode(input: string): string | null {
  const clean = input.toLowerCase().replace(/[\s-]/g, '');
  return clean.length === GROUPS * GROUP_LENGTH && [...clean].every((c) => ALPHABET.includes(c)) ? clean : null;
}

/**
 * What is stored for a code: HMAC-SHA256 under a key derived from KEY_PEPPER. A fast keyed
 * hash is enough here, as for API keys: 59 random bits cannot be guessed through a throttled
 * sign-in, and a copy of the table alone (without the pepper) cannot even be tested offline.
 * argon2 is for passwords, which people choose and which can be guessed.
 */
export function hashRecoveryCode(pepper: string, normalized: string): string {
  return createHmac('sha256', pepper).update(`keyward recovery code\0${normalized}`).digest('hex');
}
