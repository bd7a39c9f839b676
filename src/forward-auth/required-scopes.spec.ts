import { AppException } from '../common/http/problem';
import { RequiredScopeRules } from './required-scopes';

describe('RequiredScopeRules', () => {
  const rules = new RequiredScopeRules();

  it.each([
    [undefined, undefined],
    ['', undefined],
    ['config:read', ['config:read']],
    ['config:read keys:write', ['config:read', 'keys:write']],
    [' config:read,keys:write ,, config:read ', ['config:read', 'keys:write']],
    [
      ['config:read', 'keys:read'],
      ['config:read', 'keys:read'],
    ],
  ])('%j requires %j of an API key', (header, scopes) => {
    expect(rules.ruleFor(header)).toEqual({ type: 'authenticated', via: ['apiKey'], ...(scopes ? { scopes } : {}) });
  });

  it('parses a header value once', () => {
    expect(rules.ruleFor('audit:read')).toBe(rules.ruleFor('audit:read'));
  });

  it('adds a permission query from its own header, parsed once per pair of values', () => {
    const rule = rules.ruleFor('config:read', 'orders:read AND (orders:write OR admin)');
    expect(rule).toMatchObject({ scopes: ['config:read'], permissions: { kind: 'and' } });
    expect(rules.ruleFor('config:read', 'orders:read AND (orders:write OR admin)')).toBe(rule);
    expect(rules.ruleFor(undefined, '')).toEqual({ type: 'authenticated', via: ['apiKey'] });
    expect(rules.ruleFor(undefined, ['a', 'b OR c']).permissions).toEqual({
      kind: 'and',
      of: [
        { kind: 'has', name: 'a' },
        {
          kind: 'or',
          of: [
            { kind: 'has', name: 'b' },
            { kind: 'has', name: 'c' },
          ],
        },
      ],
    });
    expect(() => rules.ruleFor(undefined, 'a AND')).toThrow(
      expect.objectContaining({ code: 'INVALID_PERMISSION_QUERY' }),
    );
  });

  it('refuses an unknown scope with 400 INVALID_REQUIRED_SCOPES naming it', () => {
    let error: unknown;
    try {
      rules.ruleFor('config:read orders:write');
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(AppException);
    expect(error).toMatchObject({ code: 'INVALID_REQUIRED_SCOPES', message: expect.stringContaining('orders:write') });
    expect((error as AppException).getStatus()).toBe(400);
  });
});
