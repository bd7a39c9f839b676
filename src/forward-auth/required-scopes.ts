import { HttpStatus } from '@nestjs/common';
import { CredentialKind } from '../common/auth/access.decorators';
import { AuthenticatedRule } from '../common/auth/access.guard';
import { SCOPES } from '../common/auth/scopes';
import { AppException } from '../common/http/problem';
import { PermissionQueryCache } from '../permissions/permission-query';
import { permissionQueryOf } from '../permissions/query-input';

/** The header in which the proxy's configuration names the scopes a route needs. */
export const REQUIRE_SCOPES_HEADER = 'x-keyward-require-scopes';
/** The header in which it gives the tenant permissions a route needs, as a permission query. */
export const REQUIRE_PERMISSIONS_HEADER = 'x-keyward-require-permissions';

const KNOWN_SCOPES: ReadonlySet<string> = new Set(SCOPES);
/** Proxy configurations name few distinct requirements; past this many, rules are built per request. */
const MAX_CACHED_RULES = 256;
const API_KEY_ONLY: CredentialKind[] = ['apiKey'];

type Header = string | string[] | undefined;

/**
 * The access rule of one forward-auth request: an API key, with the scopes the proxy requires
 * (`config:read keys:write`, separated by spaces or commas) and the tenant permissions, as a
 * permission query (`orders:write AND (orders:read OR admin)`). Parsed once per distinct pair
 * of header values, so the hot path allocates nothing for it. An unknown scope or a malformed
 * query is the proxy's mistake: 400. Only headers, which the proxy sets, never the URL, which
 * the client may add to where a proxy appends the original path.
 */
export class RequiredScopeRules {
  private readonly none: AuthenticatedRule = Object.freeze({ type: 'authenticated', via: API_KEY_ONLY });
  private readonly rules = new Map<string, AuthenticatedRule>();
  private readonly queries = new PermissionQueryCache(MAX_CACHED_RULES);

  ruleFor(scopesHeader: Header, permissionsHeader?: Header): AuthenticatedRule {
    const scopes = joined(scopesHeader, ',');
    // An empty header asks for nothing, as for scopes (a proxy variable that is unset).
    const permissions = Array.isArray(permissionsHeader)
      ? permissionsHeader.map((query) => `(${query})`).join(' AND ')
      : permissionsHeader || undefined;
    if (scopes === '' && permissions === undefined) return this.none;
    const cacheKey = permissions === undefined ? scopes : `${scopes}\n${permissions}`;
    const cached = this.rules.get(cacheKey);
    if (cached) return cached;
    const rule = this.parse(scopes, permissions);
    if (this.rules.size < MAX_CACHED_RULES) this.rules.set(cacheKey, rule);
    return rule;
  }

  private parse(value: string, permissions: string | undefined): AuthenticatedRule {
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
    const query =
      permissions === undefined ? undefined : permissionQueryOf(this.queries, permissions, REQUIRE_PERMISSIONS_HEADER);
    return Object.freeze({
      type: 'authenticated' as const,
      via: API_KEY_ONLY,
      ...(scopes.length ? { scopes } : {}),
      ...(query ? { permissions: query } : {}),
    });
  }
}

/** A header's value; several of the same header are all required. */
const joined = (header: Header, separator: string): string =>
  header === undefined ? '' : Array.isArray(header) ? header.join(separator) : header;
