import { canonicalJson } from '../common/canonical-json';
import { eventHash, GENESIS_HASH, HashedFields } from './audit-hash';

const event: HashedFields = {
  tenantId: 't',
  seq: 1,
  actorType: 'user',
  actorId: 'u',
  action: 'key.created',
  targetType: 'api_key',
  targetId: 'k',
  outcome: 'success',
  reason: null,
  ip: null,
  userAgent: null,
  requestId: null,
  metadata: { b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } },
  count: 1,
  occurredAt: new Date('2026-01-02T03:04:05.678Z'),
};

describe('audit hashing', () => {
  it('canonical JSON sorts keys at every depth, so jsonb reordering keeps the hash', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [{ y: 1, x: 2 }] } })).toBe('{"a":{"c":[{"x":2,"y":1}],"d":2},"b":1}');
    const reordered = { ...event, metadata: { a: { c: null, d: [1, { y: 2, z: 1 }] }, b: 1 } };
    expect(eventHash(GENESIS_HASH, reordered)).toBe(eventHash(GENESIS_HASH, event));
  });

  it('changes with any field and with the previous hash', () => {
    const base = eventHash(GENESIS_HASH, event);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(eventHash('1'.repeat(64), event)).not.toBe(base);
    for (const change of [
      { actorId: 'v' },
      { seq: 2 },
      { count: 2 },
      { metadata: { b: 2 } },
      { occurredAt: new Date(event.occurredAt.getTime() + 1) },
      { reason: 'X' },
    ]) {
      expect(eventHash(GENESIS_HASH, { ...event, ...change })).not.toBe(base);
    }
  });

  it('is the hash stored chains were made with: the canonical form must not change', () => {
    const stored = {
      ...event,
      metadata: { b: 1, a: { d: [1, { z: 1, y: 2 }], c: null }, at: new Date('2026-01-01T00:00:00Z'), gone: undefined },
    };
    expect(eventHash(GENESIS_HASH, stored)).toBe('89a5731dfc4f290058b253e1244fb5ec007305c787e91fa64a60ced055e78165');
  });
});
