import { AnswerCache } from '../src/answer-cache';

describe('AnswerCache', () => {
  let now = 0;
  const clock = () => now;

  it('forgets an answer once its TTL has passed', () => {
    const cache = new AnswerCache<string>(1000, 10, clock);
    cache.set('a', 'valid');
    now += 999;
    expect(cache.get('a')).toBe('valid');
    now += 1;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the least recently used first', () => {
    const cache = new AnswerCache<number>(60_000, 2, clock);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
    expect(cache.size).toBe(2);
  });

  it('keeps nothing with a TTL of 0', () => {
    const cache = new AnswerCache<number>(0, 100, clock);
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.enabled).toBe(false);
  });
});
