import { CachedKey, CachedKeyFields, KeyCache, withPrincipal } from './key-cache';

const key = (
  id: string,
  tenantId = 't1',
  userId: string | null = null,
  more: Partial<CachedKeyFields> = {},
): CachedKey =>
  withPrincipal({
    id,
    tenantId,
    userId,
    scopes: ['config:read'],
    expiresAt: null,
    revokedAt: null,
    disabledAt: null,
    graceUntil: null,
    ipAllowlist: null,
    tenantActive: true,
    ownerActive: true,
    rateLimit: { limit: 100, windowSeconds: 1 },
    hasQuota: false,
    ...more,
  });

describe('KeyCache', () => {
  it('keeps found keys for the positive TTL and unknown ones for the negative TTL', () => {
    const cache = new KeyCache(10, 60_000, 5_000);
    cache.set('found', key('k1'), 0, cache.epoch);
    cache.set('unknown', null, 0, cache.epoch);
    expect(cache.get('found', 59_999)?.id).toBe('k1');
    expect(cache.get('unknown', 4_999)).toBeNull();
    expect(cache.get('unknown', 5_000)).toBeUndefined();
    expect(cache.get('found', 60_000)).toBeUndefined();
  });

  it('caps every lifetime while a limit is set (a deaf change listener), and lifts it again', () => {
    let limit: number | undefined = 2_000;
    const cache = new KeyCache(10, 60_000, 5_000, (ttl) => Math.min(ttl, limit ?? Infinity));
    cache.set('found', key('k1'), 0, cache.epoch);
    cache.set('unknown', null, 0, cache.epoch);
    expect(cache.get('found', 1_999)?.id).toBe('k1');
    expect(cache.get('found', 2_000)).toBeUndefined();
    expect(cache.get('unknown', 2_000)).toBeUndefined();
    limit = undefined;
    cache.set('found', key('k1'), 0, cache.epoch);
    expect(cache.get('found', 59_999)?.id).toBe('k1');
  });

  it('refuses a lookup result that started before an invalidation, so a revocation is never undone', () => {
    const cache = new KeyCache();
    const before = cache.epoch;
    // A lookup reads the row; meanwhile the key is revoked and its (absent) entry forgotten.
    cache.forgetKey('k1');
    cache.set('hash', key('k1'), 0, before);
    expect(cache.get('hash', 1)).toBeUndefined();
    for (const invalidate of [() => cache.forgetTenant('t1'), () => cache.forgetUser('u1'), () => cache.clear()]) {
      const epoch = cache.epoch;
      invalidate();
      cache.set('hash', key('k1'), 0, epoch);
      expect(cache.get('hash', 1)).toBeUndefined();
    }
    cache.set('hash', key('k1'), 0, cache.epoch);
    expect(cache.get('hash', 1)?.id).toBe('k1');
  });

  it('forgets by key, tenant and user', () => {
    const cache = new KeyCache();
    cache.set('a', key('k1', 't1', 'u1'), 0, cache.epoch);
    cache.set('b', key('k2', 't2', 'u2'), 0, cache.epoch);
    cache.set('c', key('k3', 't2', null), 0, cache.epoch);
    cache.forgetKey('k1');
    expect(cache.get('a', 1)).toBeUndefined();
    cache.forgetUser('u2');
    expect(cache.get('b', 1)).toBeUndefined();
    expect(cache.get('c', 1)?.id).toBe('k3');
    cache.forgetTenant('t2');
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry when full', () => {
    const cache = new KeyCache(2);
    cache.set('a', key('k1'), 0, cache.epoch);
    cache.set('b', key('k2'), 0, cache.epoch);
    expect(cache.get('a', 2_000)?.id).toBe('k1'); // a is now the most recently used
    cache.set('c', key('k3'), 2_000, cache.epoch);
    expect(cache.get('b', 2_001)).toBeUndefined();
    expect(cache.get('a', 2_001)?.id).toBe('k1');
  });

  it('never holds more than its size, and forgets its index of an evicted key with it', () => {
    const cache = new KeyCache(3);
    for (let i = 0; i < 10; i++) cache.set(`p${i}`, key(`k${i}`), 0, cache.epoch);
    expect(cache.size).toBe(3);
    // k0 was evicted; the same key presented anew is cached under its new entry and forgotten by id.
    cache.set('again', key('k0'), 0, cache.epoch);
    cache.forgetKey('k0');
    expect(cache.get('again', 1)).toBeUndefined();
    expect(cache.get('p9', 1)?.id).toBe('k9');
  });

  it('caches nothing when the positive TTL is 0 (caching turned off)', () => {
    const cache = new KeyCache(10, 0);
    cache.set('found', key('k1'), 0, cache.epoch);
    cache.set('unknown', null, 0, cache.epoch);
    expect(cache.size).toBe(0);
  });

  it('hears the bus: keys, tenants, users and gaps drop entries; configuration and sessions do not', () => {
    const cache = new KeyCache();
    cache.set('a', key('k1', 't1', 'u1'), 0, cache.epoch);
    cache.set('b', key('k2', 't2', 'u2'), 0, cache.epoch);
    cache.set('c', key('k3', 't3', null), 0, cache.epoch);
    cache.set('d', key('k4', 't4', null), 0, cache.epoch);
    cache.invalidate({ kind: 'config', tenantId: 't1' });
    cache.invalidate({ kind: 'session', sessionId: 'u1' });
    expect(cache.size).toBe(4);
    cache.invalidate({ kind: 'key', keyId: 'k1' });
    cache.invalidate({ kind: 'user', userId: 'u2' });
    cache.invalidate({ kind: 'tenant', tenantId: 't3' });
    expect(['a', 'b', 'c', 'd'].map((presented) => cache.get(presented, 1)?.id)).toEqual([
      undefined,
      undefined,
      undefined,
      'k4',
    ]);
    cache.invalidate({ kind: 'all' });
    expect(cache.size).toBe(0);
  });

  it('a hit returns the very object stored: no copy, no promise', () => {
    const cache = new KeyCache();
    const stored = key('k1');
    cache.set('a', stored, 0, cache.epoch);
    expect(cache.get('a', 1)).toBe(stored);
    expect(cache.get('a', 2)).toBe(stored);
  });

  it('shares one frozen principal per entry', () => {
    const cached = key('k1', 't1', 'u1');
    expect(cached.principal).toEqual({
      kind: 'apiKey',
      tenantId: 't1',
      userId: 'u1',
      apiKeyId: 'k1',
      scopes: ['config:read'],
      permissions: new Set(),
    });
    expect(Object.isFrozen(cached.principal)).toBe(true);
    expect(Object.isFrozen(cached.principal.scopes)).toBe(true);
  });
});

describe('KeyCache and identities', () => {
  const ofIdentity = (id: string, identityId: string | null) =>
    key(id, 't1', null, {
      ratelimits: [{ name: 'expensive', limit: 3, windowSeconds: 60 }],
      identity: identityId
        ? {
            id: identityId,
            externalId: `ext-${identityId}`,
            meta: { plan: 'pro' },
            ratelimits: [
              { name: 'default', limit: 10, windowSeconds: 60 },
              { name: 'expensive', limit: 5, windowSeconds: 60 },
            ],
            hasQuota: true,
          }
        : null,
    });

  it('names every counter once: the key’s own per key, the identity’s shared by its keys', () => {
    const a = ofIdentity('k1', 'i1');
    const b = ofIdentity('k2', 'i1');
    expect(a.limitName).toBe('key:k1');
    expect(a.limits.map((limit) => limit.counter)).toEqual(['key:k1:expensive']);
    expect(a.identity!.defaultLimit).toEqual({
      name: 'default',
      limit: 10,
      windowSeconds: 60,
      counter: 'identity:i1:default',
    });
    expect(a.identity!.limits.map((limit) => limit.counter)).toEqual(b.identity!.limits.map((limit) => limit.counter));
    expect(a.identity!.answer).toEqual({ externalId: 'ext-i1', meta: { plan: 'pro' } });
    expect(Object.isFrozen(a.identity!.answer)).toBe(true);
    // The identity's quota is spent too, though the key has none of its own.
    expect([a.hasQuota, a.spendsQuota, ofIdentity('k3', null).spendsQuota]).toEqual([false, true, false]);
    // What a verify call spends per limit name: the key's counter first, then the identity's.
    const counters = (name: string) => a.bucketsByName.get(name)?.map((bucket) => bucket.counter);
    expect([counters('default'), counters('expensive'), counters('search')]).toEqual([
      ['key:k1', 'identity:i1:default'],
      ['key:k1:expensive', 'identity:i1:expensive'],
      undefined,
    ]);
  });

  it('an identity change drops the cached keys of that identity only', () => {
    const cache = new KeyCache();
    cache.set('one', ofIdentity('k1', 'i1'), 0, cache.epoch);
    cache.set('two', ofIdentity('k2', 'i1'), 0, cache.epoch);
    cache.set('other', ofIdentity('k3', 'i2'), 0, cache.epoch);
    cache.set('none', ofIdentity('k4', null), 0, cache.epoch);
    cache.invalidate({ kind: 'identity', identityId: 'i1' });
    expect(['one', 'two', 'other', 'none'].map((presented) => cache.get(presented, 1)?.id)).toEqual([
      undefined,
      undefined,
      'k3',
      'k4',
    ]);
  });
});
