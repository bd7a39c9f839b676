import { parseInvalidation } from './invalidation.bus';

describe('parseInvalidation', () => {
  it('reads every kind of change as published', () => {
    for (const change of [
      { kind: 'key', keyId: 'k1' },
      { kind: 'tenant', tenantId: 't1' },
      { kind: 'user', userId: 'u1' },
      { kind: 'config', tenantId: 't1' },
      { kind: 'session', sessionId: 's1' },
    ]) {
      expect(parseInvalidation(JSON.stringify(change))).toEqual(change);
    }
  });

  it('understands nothing else, so the listener clears every cache', () => {
    for (const payload of [
      undefined,
      '',
      'not json',
      'null',
      '"key"',
      '{"keyId":"k1"}',
      '{"kind":"key"}',
      '{"kind":"key","keyId":7}',
      '{"kind":"toString","toString":"x"}',
      '{"kind":"everything"}',
    ]) {
      expect(parseInvalidation(payload)).toBeUndefined();
    }
  });
});
