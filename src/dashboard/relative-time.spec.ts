import { relativeTime } from './web';

describe('relativeTime', () => {
  const now = Date.parse('2026-12-04T12:00:00Z');
  const at = (offsetMs: number) => new Date(now + offsetMs);

  it('says how long ago, and how long until, in the largest whole unit', () => {
    expect(relativeTime(at(-10_000), now)).toBe('just now');
    // Under half a second ago rounds to -0 seconds: still in the past.
    expect(relativeTime(at(-300), now)).toBe('just now');
    expect(relativeTime(at(0), now)).toBe('just now');
    expect(relativeTime(at(10_000), now)).toBe('in a moment');
    expect(relativeTime(at(-5 * 60_000), now)).toBe('5 min ago');
    expect(relativeTime(at(3 * 3_600_000), now)).toBe('in 3 h');
    expect(relativeTime(at(-2 * 86_400_000), now)).toBe('2 d ago');
    expect(relativeTime(at(400 * 86_400_000), now)).toBe('2028-01-08');
  });

  it('never puts what has happened ahead of now: a stamp from a clock that ran ahead is "just now"', () => {
    expect(relativeTime(at(10_000), now, true)).toBe('just now');
    expect(relativeTime(at(10 * 60_000), now, true)).toBe('just now');
    expect(relativeTime(at(-5 * 60_000), now, true)).toBe('5 min ago');
  });
});
