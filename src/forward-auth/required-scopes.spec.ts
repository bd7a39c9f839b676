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
