import { base32Decode, base32Encode, hotp, matchTotp, newTotpSecret, otpauthUri, totpCode } from './totp';

// RFC 6238 appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
const RFC_SECRET = base32Encode(Buffer.from('12345678901234567890'));

describe('TOTP', () => {
  it('matches the RFC 4226 and RFC 6238 test vectors', () => {
    const seed = Buffer.from('12345678901234567890');
    expect([0, 1, 2, 9].map((counter) => hotp(seed, counter))).toEqual(['755224', '287082', '359152', '520489']);
    // RFC 6238's 8-digit values, of which authenticator apps show the last 6.
    for (const [seconds, code] of [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
    ] as const) {
      expect(hotp(seed, Math.floor(seconds / 30), 8)).toBe(code);
      expect(totpCode(RFC_SECRET, new Date(seconds * 1000))).toBe(code.slice(2));
    }
  });

  it('round-trips base32 and makes 160-bit secrets', () => {
    expect(RFC_SECRET).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(base32Decode(RFC_SECRET).toString()).toBe('12345678901234567890');
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
    expect(() => base32Decode('not base32!')).toThrow();
  });

  it('accepts one step either side of now and nothing further', () => {
    const now = new Date(1_700_000_000_000);
    const at = (offsetS: number) => totpCode(RFC_SECRET, new Date(now.getTime() + offsetS * 1000));
    const step = Math.floor(now.getTime() / 30_000);
    expect(matchTotp(RFC_SECRET, at(0), now, null)).toBe(step);
    expect(matchTotp(RFC_SECRET, at(-30), now, null)).toBe(step - 1);
    expect(matchTotp(RFC_SECRET, at(30), now, null)).toBe(step + 1);
    expect(matchTotp(RFC_SECRET, at(-60), now, null)).toBeNull();
    expect(matchTotp(RFC_SECRET, at(60), now, null)).toBeNull();
  });

  it('never accepts a step at or before the last one used', () => {
    const now = new Date(1_700_000_000_000);
    const step = Math.floor(now.getTime() / 30_000);
    const code = totpCode(RFC_SECRET, now);
    expect(matchTotp(RFC_SECRET, code, now, step)).toBeNull();
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, new Date(now.getTime() - 30_000)), now, step)).toBeNull();
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, new Date(now.getTime() + 30_000)), now, step)).toBe(step + 1);
  });

  it('refuses anything but six digits', () => {
    const now = new Date(1_700_000_000_000);
    for (const bad of ['', '12345', '1234567', 'abcdef', ' 123456', '12 345']) {
      expect(matchTotp(RFC_SECRET, bad, now, null)).toBeNull();
    }
  });

  it('builds the Key URI Format that authenticator apps read', () => {
    const uri = otpauthUri('JBSWY3DPEHPK3PXP', 'Keyward (Acme)', 'ada@example.com');
    expect(uri.startsWith('otpauth://totp/Keyward%20(Acme):ada%40example.com?')).toBe(true);
    expect(Object.fromEntries(new URLSearchParams(uri.split('?')[1]))).toEqual({
      secret: 'JBSWY3DPEHPK3PXP',
      issuer: 'Keyward (Acme)',
      algorithm: 'SHA1',
      digits: '6',
      period: '30',
    });
  });
});
