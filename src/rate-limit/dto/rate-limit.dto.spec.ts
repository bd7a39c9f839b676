import { rateLimitListProblem, rateLimitSpendProblem } from './rate-limit.dto';

describe('named rate limits', () => {
  const limit = (name: unknown, extra: object = {}) => ({ name, limit: 10, windowSeconds: 60, ...extra });

  it.each<[string, unknown, string | undefined]>([
    ['a valid list', [limit('default'), limit('orders.write:burst')], undefined],
    ['an empty list', [], undefined],
    ['not a list', { name: 'x' }, 'must be an array'],
    ['an item that is not an object', ['x'], 'must be an array'],
    ['a bad name', [limit('has space')], 'names must be'],
    ['a name starting with a dash', [limit('-x')], 'names must be'],
    ['a name too long', [limit('x'.repeat(33))], 'names must be'],
    ['a name twice', [limit('a'), limit('a')], 'twice: a'],
    ['eleven limits', Array.from({ length: 11 }, (_, i) => limit(`l${i}`)), 'at most 10'],
    ['a zero limit', [limit('a', { limit: 0 })], 'limit of a'],
    ['a fractional window', [limit('a', { windowSeconds: 1.5 })], 'windowSeconds of a'],
    ['an unknown field', [limit('a', { burst: 1 })], 'unknown fields: burst'],
  ])('list: %s', (_, value, problem) => {
    const found = rateLimitListProblem(value);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it.each<[string, unknown, string | undefined]>([
    ['names with and without a cost', [{ name: 'default' }, { name: 'expensive', cost: 0 }], undefined],
    ['a negative cost', [{ name: 'a', cost: -1 }], 'cost of a'],
    ['a fractional cost', [{ name: 'a', cost: 0.5 }], 'cost of a'],
    ['a cost as text', [{ name: 'a', cost: '1' }], 'cost of a'],
    ['a name twice', [{ name: 'a' }, { name: 'a' }], 'twice'],
    ['an unknown field', [{ name: 'a', weight: 1 }], 'unknown fields: weight'],
  ])('spend: %s', (_, value, problem) => {
    const found = rateLimitSpendProblem(value);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});
