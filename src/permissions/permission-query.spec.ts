import fc from 'fast-check';
import {
  MAX_QUERY_DEPTH,
  MAX_QUERY_LENGTH,
  missingPermissions,
  parsePermissionQuery,
  PermissionQuery,
  PermissionQueryCache,
  PermissionQueryError,
  queryNames,
  satisfies,
} from './permission-query';
import { isPermissionName } from './permission-name';

const held = (...names: string[]) => new Set(names);

describe('permission queries', () => {
  it.each<[string, string[], boolean, string[]]>([
    ['orders:read', ['orders:read'], true, []],
    ['orders:read', [], false, ['orders:read']],
    ['orders:read', ['Orders:read'], false, ['orders:read']],
    ['orders:read AND orders:write', ['orders:read'], false, ['orders:write']],
    ['orders:read AND orders:write', ['orders:read', 'orders:write'], true, []],
    ['orders:read OR orders:write', ['orders:write'], true, []],
    ['orders:read OR orders:write', [], false, ['orders:read']],
    ['orders:write AND (orders:read OR admin)', ['orders:write', 'admin'], true, []],
    ['orders:write AND (orders:read OR admin)', ['orders:write'], false, ['orders:read']],
    ['orders:write AND (orders:read OR admin)', ['admin'], false, ['orders:write']],
    // AND binds tighter than OR.
    ['a OR b AND c', ['a'], true, []],
    ['a OR b AND c', ['b'], false, ['a']],
    ['a OR b AND c', ['b', 'x'], false, ['a']],
    ['b AND c OR a', ['b'], false, ['c']],
    ['(a OR b) AND c', ['a'], false, ['c']],
    // The OR alternative that needs the fewest additions.
    ['(a AND b AND c) OR (d AND e)', ['d'], false, ['e']],
    ['(a AND b AND c) OR (d AND e)', [], false, ['d', 'e']],
    ['(a AND b) OR (c AND d)', ['c'], false, ['d']],
    // What an earlier part already needs counts for a later OR.
    ['x AND (y OR x)', [], false, ['x']],
    ['billing.invoices.read', ['billing.invoices.read'], true, []],
    ['  ( ( orders:read ) )  ', ['orders:read'], true, []],
  ])('%j with %j: %s, missing %j', (source, names, expected, missing) => {
    const query = parsePermissionQuery(source);
    expect(satisfies(query, held(...names))).toBe(expected);
    expect(missingPermissions(query, held(...names))).toEqual(missing);
  });

  it.each<[string, RegExp]>([
    ['', /empty/],
    ['   ', /empty/],
    ['(orders:read', /Unbalanced parentheses: expected "\)"/],
    ['orders:read)', /Unbalanced parentheses: "\)" at 12 closes nothing/],
    [')(', /Unbalanced/],
    ['()', /Expected a permission name or "\(", found "\)"/],
    ['orders:read AND', /found the end/],
    ['AND orders:read', /Expected a permission name/],
    ['orders:read orders:write', /Expected AND or OR, found "orders:write"/],
    ['orders:read and orders:write', /Expected AND or OR, found "and"/],
    ['orders:read OR OR admin', /Expected a permission name/],
    ['orders::read', /"orders::read" \(at 1\) is not a permission name/],
    ['1orders', /not a permission name/],
    ['orders:read; DROP TABLE', /not a permission name/],
    ['a'.repeat(101), /not a permission name/],
    ['a OR '.repeat(300) + 'a', /too long/],
    [Array.from({ length: 51 }, (_, i) => `p${i}`).join(' OR '), /too many permissions/],
    ['('.repeat(MAX_QUERY_DEPTH + 1) + 'a' + ')'.repeat(MAX_QUERY_DEPTH + 1), /nests too deep/],
  ])('refuses %j: %s', (source, message) => {
    expect(() => parsePermissionQuery(source)).toThrow(PermissionQueryError);
    expect(() => parsePermissionQuery(source)).toThrow(message);
  });

  it('accepts the deepest and longest queries within the bounds', () => {
    const deep = '('.repeat(MAX_QUERY_DEPTH) + 'a' + ')'.repeat(MAX_QUERY_DEPTH);
    expect(satisfies(parsePermissionQuery(deep), held('a'))).toBe(true);
    const long = ('a' + ' '.repeat(MAX_QUERY_LENGTH)).slice(0, MAX_QUERY_LENGTH);
    expect(satisfies(parsePermissionQuery(long), held('a'))).toBe(true);
  });

  it('parses a text once through the cache', () => {
    const cache = new PermissionQueryCache(2);
    expect(cache.parse('a AND b')).toBe(cache.parse('a AND b'));
    expect(() => cache.parse('a AND')).toThrow(PermissionQueryError);
  });

  describe('property: the evaluator agrees with a truth table', () => {
    const NAMES = ['a', 'b', 'c', 'd', 'orders:read'];

    /** A random expression, as a tree and as the text a caller would send. */
    type Expr = { text: string; value: (env: Set<string>) => boolean };
    const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
      e: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom(...NAMES).map((name) => ({ text: name, value: (env: Set<string>) => env.has(name) })),
        fc.tuple(tie('e'), fc.constantFrom('AND', 'OR'), tie('e')).map(([left, op, right]) => ({
          text: `(${left.text} ${op} ${right.text})`,
          value: (env: Set<string>) =>
            op === 'AND' ? left.value(env) && right.value(env) : left.value(env) || right.value(env),
        })),
      ),
    })).e;

    const withinBounds = (text: string) => {
      let depth = 0;
      let deepest = 0;
      for (const char of text) {
        depth += char === '(' ? 1 : char === ')' ? -1 : 0;
        deepest = Math.max(deepest, depth);
      }
      return (
        deepest <= MAX_QUERY_DEPTH && text.length <= MAX_QUERY_LENGTH && (text.match(/[a-z:]+/g) ?? []).length <= 50
      );
    };

    /** Every subset of the names, as the rows of the truth table. */
    const rows = Array.from(
      { length: 1 << NAMES.length },
      (_, bits) => new Set(NAMES.filter((_, i) => bits & (1 << i))),
    );

    it('for every assignment, and the missing permissions always make it true', () => {
      fc.assert(
        fc.property(
          expr.filter((e) => withinBounds(e.text)),
          (e) => {
            const query = parsePermissionQuery(e.text);
            for (const row of rows) {
              const result = satisfies(query, row);
              expect(result).toBe(e.value(row));
              const missing = missingPermissions(query, row);
              expect(missing.length === 0).toBe(result);
              expect(satisfies(query, new Set([...row, ...missing]))).toBe(true);
              expect(missing.every((name) => queryNames(query).has(name) && !row.has(name))).toBe(true);
            }
          },
        ),
        { numRuns: 300 },
      );
    });

    it('without parentheses, AND binds tighter than OR', () => {
      fc.assert(
        fc.property(
          fc.array(fc.array(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
          (dnf) => {
            const query: PermissionQuery = parsePermissionQuery(dnf.map((conj) => conj.join(' AND ')).join(' OR '));
            for (const row of rows)
              expect(satisfies(query, row)).toBe(dnf.some((conj) => conj.every((n) => row.has(n))));
          },
        ),
      );
    });
  });

  it('shares its name grammar with permission names', () => {
    for (const name of ['orders:write', 'billing.invoices.read', 'admin', 'a-b_c:D1'])
      expect(isPermissionName(name)).toBe(true);
    for (const name of ['', 'AND', 'OR', 'orders:', ':x', 'a b', 'é', '1a', 'a'.repeat(101)])
      expect(isPermissionName(name)).toBe(false);
    expect(isPermissionName('a'.repeat(100))).toBe(true);
  });
});
