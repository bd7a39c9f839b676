import { someInOrder } from './maybe-promise';

describe('someInOrder', () => {
  it('runs steps in order and stops at the first that answers true, synchronously while every step is', () => {
    const ran: number[] = [];
    expect(someInOrder(4, (i) => (ran.push(i), i === 1))).toBe(true);
    expect(ran).toEqual([0, 1]);
    expect(someInOrder(3, () => false)).toBe(false);
    expect(someInOrder(0, () => true)).toBe(false);
  });

  it('follows a step that answers later, keeping the order, and still stops at the first true', async () => {
    const ran: number[] = [];
    const result = someInOrder(4, (i) => {
      ran.push(i);
      return i === 0 ? Promise.resolve(false) : i === 2;
    });
    expect(result).toBeInstanceOf(Promise);
    expect(ran).toEqual([0]);
    await expect(result).resolves.toBe(true);
    expect(ran).toEqual([0, 1, 2]);
  });
});
