import { MemoryWindows } from './memory-windows';

describe('MemoryWindows', () => {
  const T0 = 1_700_000_000_000;

  it('allows `limit` events per window, then refuses with the time left until the window ends', () => {
    const windows = new MemoryWindows();
    const results = [0, 1, 2, 3].map((i) => windows.consume('key:a', 3, 60, T0 + i * 1_000));
    expect(results.map((r) => [r.allowed, r.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(results.map((r) => r.resetSeconds)).toEqual([60, 59, 58, 57]);
    expect(results.every((r) => r.limit === 3)).toBe(true);
  });

  it('starts a new window once the old one has ended, and counts each name on its own', () => {
    const windows = new MemoryWindows();
    for (let i = 0; i < 5; i++) windows.consume('key:a', 2, 1, T0);
    expect(windows.consume('key:a', 2, 1, T0 + 999).allowed).toBe(false);
    expect(windows.consume('key:b', 2, 1, T0 + 999)).toMatchObject({ allowed: true, remaining: 1 });
    expect(windows.consume('key:a', 2, 1, T0 + 1_000)).toMatchObject({ allowed: true, remaining: 1, resetSeconds: 1 });
  });

  it('starts afresh when the limit or the window of a name changes', () => {
    const windows = new MemoryWindows();
    for (let i = 0; i < 3; i++) windows.consume('key:a', 3, 60, T0);
    expect(windows.consume('key:a', 3, 60, T0).allowed).toBe(false);
    expect(windows.consume('key:a', 10, 60, T0)).toMatchObject({ allowed: true, remaining: 9 });
    expect(windows.consume('key:a', 10, 30, T0)).toMatchObject({ allowed: true, remaining: 9, resetSeconds: 30 });
  });

  it('never reports a reset under one second', () => {
    const windows = new MemoryWindows();
    windows.consume('key:a', 1, 1, T0);
    expect(windows.consume('key:a', 1, 1, T0 + 999).resetSeconds).toBe(1);
  });

  it('drops ended windows as time goes on, so names that stop coming are not kept', () => {
    const windows = new MemoryWindows();
    for (let i = 0; i < 100; i++) windows.consume(`leak:10.0.0.${i}`, 5, 60, T0);
    windows.consume('key:a', 5, 1, T0 + 30_000);
    expect(windows.size).toBe(101);
    windows.consume('key:a', 5, 1, T0 + 61_000);
    expect(windows.size).toBe(1);
  });
});

describe('MemoryWindows with a cost', () => {
  const T0 = 1_700_000_000_000;

  it('counts a use by its cost; a cost of 0 reads the window without counting', () => {
    const windows = new MemoryWindows();
    expect(windows.consume('k', 3, 60, T0, 2)).toMatchObject({ allowed: true, remaining: 1 });
    expect(windows.consume('k', 3, 60, T0, 0)).toMatchObject({ allowed: true, remaining: 1 });
    expect(windows.consume('k', 3, 60, T0, 2)).toMatchObject({ allowed: false, remaining: 0 });
    // A cost above the limit is never allowed.
    expect(new MemoryWindows().consume('k', 3, 60, T0, 4).allowed).toBe(false);
  });
});
