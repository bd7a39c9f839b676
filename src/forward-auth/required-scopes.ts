import { HttpStatus } from '@nestjs/common';
import { CredentialKind } from '../common/auth/access.decorators';
import { AuthenticatedRule } from '../common/auth/access.guard';
import { SCOPES } from '../common/auth/scopes';
import { AppException } from '../common/http/problem';

/** The header in which the proxy's configuration names the scopes a route needs. */
export const REQUIRE_SCOPES_HEADER = 'x-keyward-require-scopes';

const KNOWN_SCOPES: ReadonlySet<string> = new Set(SCOPES);
/** Proxy configurations name few distinct requirements; past this many, rules are built per request. */
const MAX_CACHED_RULES = 256;
const API_KEY_ONLY: CredentialKind[] = ['apiKey'];

/**
 * The access rule of one forward-auth request: an API key, with the scopes the proxy requires
 * (`config:read orders:write`, separated by spaces or commas). Parsed once per distinct header
 * value, so the hot path allocates nothing for it. An unknown scope is the proxy's mistake: 400.
 */
export class RequiredScopeRules {
  private readonly none: AuthenticatedRule = Object.freeze({ type: 'authenticated', via: API_KEY_ONLY });
  private readonly rules = new Map<string, AuthenticatedRule>();

  ruleFor(header: string | string[] | undefined): AuthenticatedRule {
    if (header === undefined || header === '') return this.none;
    const value = Array.isArray(header) ? header.join(',') : header;
    const cached = this.rules.get(value);
    if (cached) return cached;
    const rule = parse(value);
    if (this.rules.size < MAX_CACHED_RULES) this.rules.set(value, rule);
    return rule;
  }
}

function parse(value: string): AuthenticatedRule {
  const scopes = [...new Set(value.split(/[\s,]+/).filter(Boolean))];
  const unknown = scopes.filter((scope) => !KNOWN_SCOPES.has(scope));
  if (unknown.length) {
    throw new AppException(
      HttpStatus.BAD_REQUEST,
      'INVALID_REQUIRED_SCOPES',
      `${REQUIRE_SCOPES_HEADER} names unknown scopes: ${unknown
        .slice(0, 10)
        .map((scope) => scope.slice(0, 64))
        .join(' ')}`,
      { knownScopes: SCOPES },
    );
  }
  return Object.freeze({ type: 'authenticated' as const, via: API_KEY_ONLY, ...(scopes.length ? { scopes } : {}) });
}
