import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips and never stores the plaintext', () => {
    const sealed = box.seal('{"token":"s3cr3t"}', 'tenant-1/db');
    expect(sealed).not.toContain('s3cr3t');
    expect(Buffer.from(sealed, 'base64').toString('latin1')).not.toContain('s3cr3t');
    expect(box.open(sealed, 'tenant-1/db')).toBe('{"token":"s3cr3t"}');
    expect(box.seal('same', 'c')).not.toBe(box.seal('same', 'c'));
  });

  it('refuses tampering, another context and another key', () => {
    const sealed = box.seal('value', 'tenant-1/db');
    const bytes = Buffer.from(sealed, 'base64');
    bytes[bytes.length - 1] ^= 1;
    expect(() => box.open(bytes.toString('base64'), 'tenant-1/db')).toThrow();
    expect(() => box.open(sealed, 'tenant-2/db')).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'tenant-1/db')).toThrow();
  });
});
