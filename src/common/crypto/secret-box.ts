import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for values stored at rest. Output: base64 of version byte, 12-byte IV,
 * 16-byte tag, ciphertext. `context` (e.g. tenant and key name) is bound as associated
 * data, so a ciphertext copied to another row does not decrypt.
 */
export class SecretBox {
  private static readonly VERSION = 1;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([SecretBox.VERSION]), iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string, context: string): string {
    const data = Buffer.from(sealed, 'base64');
    if (data[0] !== SecretBox.VERSION || data.length < 29) throw new Error('Unknown ciphertext format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(1, 13)).setAAD(Buffer.from(context));
    decipher.setAuthTag(data.subarray(13, 29));
    return Buffer.concat([decipher.update(data.subarray(29)), decipher.final()]).toString('utf8');
  }
}
