import { csvCell } from './audit.dto';
import { canonicalJson, eventHash, GENESIS_HASH, HashedFields } from './audit-hash';

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
    for (const change of [{ actorId: 'v' }, { seq: 2 }, { count: 2 }, { metadata: { b: 2 } }, { occurredAt: new Date(event.occurredAt.getTime() + 1) }, { reason: 'X' }]) {
      expect(eventHash(GENESIS_HASH, { ...event, ...change })).not.toBe(base);
    }
  });

  it('CSV cells are quoted when needed and formula-safe', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"\n')).toBe('"say ""hi""\n"');
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell(null)).toBe('');
    expect(csvCell({ a: 1 })).toBe('"{""a"":1}"');
  });
});
