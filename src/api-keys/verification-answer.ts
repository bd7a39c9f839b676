import type { PermissionQuery } from '../permissions/permission-query';
import { missingPermissions } from '../permissions/permission-query';
import type { Verification } from './api-key-verifier.service';

/** The state of one rate limit the verification spent. */
export interface RateLimitState {
  name: string;
  limit: number;
  remaining: number;
  /** When the window resets, as Unix time in milliseconds. */
  reset: number;
}

export interface KeyVerification {
  valid: boolean;
  code: string;
  keyId?: string;
  name?: string;
  tenantId?: string;
  ownerId?: string | null;
  identity?: Readonly<{ externalId: string; meta: Record<string, unknown> }> | null;
  permissions?: readonly string[];
  roles?: readonly string[];
  scopes?: string[];
  meta?: Readonly<Record<string, unknown>>;
  expiresAt?: string | null;
  remaining?: number | null;
  ratelimits?: RateLimitState[];
  missingPermissions?: string[];
}

/**
 * What a service is told about a key it asked about. An unknown key (or one of another tenant,
 * which must look the same) is `valid: false` and its code only; a known one comes with what
 * the service needs to act on it, also when refused, and with the permissions whose presence
 * would have satisfied a failed permission query.
 */
export function verificationAnswer(
  found: Verification,
  query: PermissionQuery | undefined,
  now: number,
): KeyVerification {
  const { key, code } = found;
  if (!key) return { valid: false, code: code! };
  const answer: KeyVerification = {
    valid: !code,
    code: code ?? 'VALID',
    keyId: key.id,
    name: key.name,
    tenantId: key.tenantId,
    ownerId: key.userId,
    identity: key.identity ? key.identity.answer : null,
    permissions: key.permissions,
    roles: key.roles,
    scopes: key.scopes,
    meta: key.metadata,
    expiresAt: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
    remaining: found.remaining,
    // The verifier counts a window's reset in seconds from now; the answer gives the moment.
    ratelimits: found.ratelimits.map(({ name, limit, remaining, reset }) => ({
      name,
      limit,
      remaining,
      reset: now + reset * 1000,
    })),
  };
  // Added only when it applies, rather than spread in: this runs on every verify call.
  if (code === 'INSUFFICIENT_PERMISSIONS' && query)
    answer.missingPermissions = missingPermissions(query, key.permissionSet);
  return answer;
}
