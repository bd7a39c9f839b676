import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode, RECOVERY_CODE_COUNT } from './recovery-codes';

describe('recovery codes', () => {
  it('makes ten distinct, readable codes', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    for (const code of codes) expect(code).toMatch(/^[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}$/);
  });

  it('reads a code back whatever its case, spaces and dashes', () => {
    const [code] = newRecoveryCodes(1);
    const normalized = normalizeRecoveryCode(code)!;
    expect(normalized).toBe(code.replace(/-/g, ''));
    expect(normalizeRecoveryCode(` ${code.toUpperCase().replace(/-/g, ' ')} `)).toBe(normalized);
    for (const bad of ['', 'abcd-efgh', 'abcd-efgh-ijk0', 'abcd-efgh-ijkl-mnop', '!!!!-!!!!-!!!!']) {
      expect(normalizeRecoveryCode(bad)).toBeNull();
    }
  });

  it('hashes under the pepper, so the same code gives another hash with another pepper', () => {
    const normalized = normalizeRecoveryCode(newRecoveryCodes(1)[0])!;
    const hash = hashRecoveryCode('pepper-one', normalized);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(normalized);
    expect(hashRecoveryCode('pepper-one', normalized)).toBe(hash);
    expect(hashRecoveryCode('pepper-two', normalized)).not.toBe(hash);
  });
});
