import { BoundedCache } from './bounded-cache';

describe('BoundedCache', () => {
  it('serves an entry until its time is up, by the caller’s clock', () => {
    const cache = new BoundedCache<string>(10);
    cache.set('a', 'value', 1_000, cache.epoch);
    expect(cache.get('a', 999)).toBe('value');
    expect(cache.get('a', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps at most its size, dropping the least recently used', () => {
    const removed: string[] = [];
    const cache = new BoundedCache<string>(2, (key) => removed.push(key));
    cache.set('a', 'A', Infinity, cache.epoch);
    cache.set('b', 'B', Infinity, cache.epoch);
    expect(cache.get('a')).toBe('A');
    cache.set('c', 'C', Infinity, cache.epoch);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.size).toBe(2);
    expect(removed).toEqual(['b']);
  });

  it('refuses a value whose lookup an invalidation overtook, even of another entry', () => {
    const cache = new BoundedCache<string>(10);
    for (const invalidate of [
      () => cache.invalidate('a'),
      () => cache.invalidate(undefined),
      () => cache.invalidateWhere(() => false),
      () => cache.clear(),
    ]) {
      const epoch = cache.epoch;
      invalidate();
      expect(cache.set('a', 'stale', Infinity, epoch)).toBe(false);
      expect(cache.get('a')).toBeUndefined();
    }
    expect(cache.set('a', 'fresh', Infinity, cache.epoch)).toBe(true);
    expect(cache.get('a')).toBe('fresh');
  });

  it('drops what matches', () => {
    const cache = new BoundedCache<{ tenantId: string }>(10);
    for (const [key, tenantId] of [
      ['a', 't1'],
      ['b', 't2'],
      ['c', 't1'],
    ])
      cache.set(key, { tenantId }, Infinity, cache.epoch);
    cache.invalidateWhere((value) => value.tenantId === 't1');
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, { tenantId: 't2' }, undefined]);
  });
});
