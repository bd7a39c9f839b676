/**
 * The rules of API keys, as pure functions that return decisions: whether a key works, who
 * sees which keys, what a caller may put on a key it creates or changes. No Nest, no database;
 * the service, the verifier, the SQL builders, usage and the dashboard all ask here.
 */
import type { Principal, Role } from '../common/auth/principal';
import { ROLE_SCOPES, SCOPES } from '../common/auth/scopes';
import type { QuotaRefill, RateLimitSetting } from './api-key.entity';
import type { NamedRateLimit } from '../rate-limit/rate-limit.types';
import { allowlistWithin } from './ip-allowlist';

/** A time as the entity (Date) or the verifier's cache (epoch milliseconds) holds it. */
type Instant = Date | number | null;

const ms = (time: Instant): number | null => (time === null ? null : typeof time === 'number' ? time : time.getTime());

export interface QuotaTerms {
  remaining: number;
  refill: QuotaRefill | null;
}

// ---------------------------------------------------------------------------------------------
// Status

export type KeyStatus = 'active' | 'disabled' | 'revoked' | 'expired';

export interface KeyLifecycle {
  revokedAt: Instant;
  graceUntil: Instant;
  expiresAt: Instant;
  disabledAt: Instant;
}

/** Revoked, or rotated away with its grace period over: ended for good. */
export function isEnded(key: Pick<KeyLifecycle, 'revokedAt' | 'graceUntil'>, now: Instant): boolean {
  const graceUntil = ms(key.graceUntil);
  return key.revokedAt !== null || (graceUntil !== null && graceUntil <= ms(now)!);
}

export function isExpired(key: Pick<KeyLifecycle, 'expiresAt'>, now: Instant): boolean {
  const expiresAt = ms(key.expiresAt);
  return expiresAt !== null && expiresAt <= ms(now)!;
}

/** The status a key is shown and filtered with. */
export function keyStatus(key: KeyLifecycle, now: Instant): KeyStatus {
  if (isEnded(key, now)) return 'revoked';
  if (isExpired(key, now)) return 'expired';
  return key.disabledAt ? 'disabled' : 'active';
}

/**
 * A key that holds a place under the per-user and per-tenant caps: not ended and not expired.
 * Disabled keys count (they can be enabled again), and so do keys in their grace period: they
 * still work, so rotating cannot multiply the working keys of an owner.
 */
export const holdsPlace = (key: KeyLifecycle, now: Instant): boolean => !isEnded(key, now) && !isExpired(key, now);

/**
 * The same statuses as SQL conditions on the api_keys columns (alias `k`), for list filters and
 * counts. `now` names the parameter that holds the current time (`:now` or `$2`).
 */
export function statusSql(status: KeyStatus | 'holdsPlace', now: string, k = 'k'): string {
  const notEnded = `${k}.revoked_at IS NULL AND (${k}.grace_until IS NULL OR ${k}.grace_until > ${now})`;
  const notExpired = `(${k}.expires_at IS NULL OR ${k}.expires_at > ${now})`;
  switch (status) {
    case 'revoked':
      return `(${k}.revoked_at IS NOT NULL OR ${k}.grace_until <= ${now})`;
    case 'expired':
      return `${notEnded} AND ${k}.expires_at <= ${now}`;
    case 'holdsPlace':
      return `${notEnded} AND ${notExpired}`;
    case 'disabled':
      return `${notEnded} AND ${notExpired} AND ${k}.disabled_at IS NOT NULL`;
    case 'active':
      return `${notEnded} AND ${notExpired} AND ${k}.disabled_at IS NULL`;
  }
}

export type KeyDenialCode = 'KEY_REVOKED' | 'KEY_EXPIRED' | 'TENANT_SUSPENDED' | 'KEY_DISABLED';

/**
 * Why a key cannot be used now, in the order requests are refused: ended (or its owner is no
 * longer active), expired, its tenant suspended, disabled. Undefined: it may be used.
 */
export function keyDenial(
  key: KeyLifecycle & { ownerActive: boolean; tenantActive: boolean },
  now: Instant,
): KeyDenialCode | undefined {
  if (isEnded(key, now) || !key.ownerActive) return 'KEY_REVOKED';
  if (isExpired(key, now)) return 'KEY_EXPIRED';
  if (!key.tenantActive) return 'TENANT_SUSPENDED';
  if (key.disabledAt !== null) return 'KEY_DISABLED';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Who sees and owns which keys

type Caller = Pick<Principal, 'kind' | 'role' | 'userId'>;

/** Owners and admins of the tenant, and the operator. */
export const managesTenant = (role: Role | undefined): boolean => role === 'owner' || role === 'admin';

/**
 * Whose keys a caller sees: undefined for every key of the tenant, otherwise only the keys of
 * that owner (null: service keys). A user's key sees its owner's keys; a service key sees all.
 */
export function visibleOwner(caller: Caller): string | null | undefined {
  if (caller.kind === 'apiKey') return caller.userId ?? undefined;
  if (caller.kind === 'user' && !managesTenant(caller.role)) return caller.userId!;
  return undefined;
}

export const seesAllKeys = (caller: Caller): boolean => visibleOwner(caller) === undefined;

export type OwnerDecision = { ownerId: string | null } | { denied: string };

/**
 * Whose key a new key is: the caller's own unless an owner/admin (or the operator) names
 * another user (`userId`) or asks for a service key. A key makes keys for its own owner only.
 */
export function ownerOfNewKey(caller: Caller, asked: { userId?: string | null; service?: boolean }): OwnerDecision {
  if (caller.kind === 'admin') return { ownerId: asked.userId ?? null };
  const own = caller.userId ?? null;
  const ownerId = asked.service ? null : asked.userId === undefined ? own : asked.userId;
  if (ownerId === own) return { ownerId };
  if (caller.kind === 'apiKey') return { denied: 'A key can only create keys for its own owner' };
  return managesTenant(caller.role)
    ? { ownerId }
    : { denied: 'Only owners and admins can create keys for others or service keys' };
}

// ---------------------------------------------------------------------------------------------
// What a caller may put on a key

/** The scopes a caller may grant: the operator all, a key its own, a user its role's. */
export function grantableScopes(
  caller: Pick<Principal, 'kind' | 'role' | 'scopes'>,
  ownerRole?: Role | null,
): string[] {
  const byCaller: readonly string[] =
    caller.kind === 'admin' ? SCOPES : caller.kind === 'apiKey' ? caller.scopes : ROLE_SCOPES[caller.role!];
  // A user's key never carries more than the user's own role allows.
  const byOwner: readonly string[] = ownerRole ? ROLE_SCOPES[ownerRole] : SCOPES;
  return byCaller.filter((scope) => byOwner.includes(scope));
}

/**
 * What a caller may hand out. A person or the operator is bounded by scopes only (null: no
 * bound); a key passes on at most its own expiry, addresses, quota and rate limit.
 */
export interface KeyBounds {
  scopes: readonly string[];
  expiresAt: Instant;
  ipAllowlist: string[] | null;
  quota: QuotaTerms | null;
  /** The caller key's effective limit (its own, or the tenant default); null for a person. */
  rateLimit: RateLimitSetting | null;
  /** The tenant's own permissions it may give (null: any, for owners, admins and the operator). */
  permissions: readonly string[] | null;
  /** The roles it may give: a key only those it carries itself, so a later change of a role moves both alike. */
  roles: readonly string[] | null;
  /** The caller key's other named limits (a person: none, no bound). */
  ratelimits: readonly NamedRateLimit[];
}

/** What a key carries, as far as containment is concerned (rateLimit: effective, after the tenant default). */
export interface KeyTerms {
  scopes: readonly string[];
  expiresAt: Instant;
  ipAllowlist: string[] | null;
  quota: QuotaTerms | null;
  rateLimit: RateLimitSetting;
  /** The tenant's own permissions and roles it carries (by name). */
  permissions: readonly string[];
  roles: readonly string[];
  ratelimits: readonly NamedRateLimit[];
}

/** A key's own permissions and roles (names), as far as containment is concerned. */
export interface KeyGrantNames {
  permissions: readonly string[];
  roles: readonly string[];
}

const NONE: KeyGrantNames = { permissions: [], roles: [] };

/**
 * What a person may hand out. People hold no tenant permissions of their own: owners and admins
 * (and the operator) may give any of them; members and viewers none.
 */
export function boundsOfPerson(caller: Pick<Principal, 'kind' | 'role' | 'scopes'>): KeyBounds {
  const any = caller.kind === 'admin' || managesTenant(caller.role);
  return {
    scopes: grantableScopes(caller),
    expiresAt: null,
    ipAllowlist: null,
    quota: null,
    rateLimit: null,
    permissions: any ? null : [],
    roles: any ? null : [],
    ratelimits: [],
  };
}

export const expiryWithin = (inner: Instant, outer: Instant): boolean =>
  outer === null || (inner !== null && ms(inner)! <= ms(outer)!);

const REFILL_ORDER = { day: 2, month: 1 } as const;

/** A quota no larger than another: fewer uses left, and a refill no bigger or more frequent. */
export function quotaWithin(inner: QuotaTerms | null, outer: QuotaTerms | null): boolean {
  if (!outer) return true;
  if (!inner || inner.remaining > outer.remaining) return false;
  if (!inner.refill) return true;
  if (!outer.refill) return false;
  return (
    inner.refill.amount <= outer.refill.amount &&
    REFILL_ORDER[inner.refill.interval] <= REFILL_ORDER[outer.refill.interval]
  );
}

/**
 * A rate limit no looser than another, both as a burst (requests in one window) and as a rate
 * (requests per second): 60/min is not within 1/s although its rate is the same.
 */
export function rateLimitWithin(inner: RateLimitSetting, outer: RateLimitSetting | null): boolean {
  if (!outer) return true;
  return inner.limit <= outer.limit && inner.limit * outer.windowSeconds <= outer.limit * inner.windowSeconds;
}

/**
 * Named limits no looser than a caller's: each limit the caller has, the key has too, within it.
 * A name the caller has no limit of bounds nothing (it does not limit the caller either).
 */
export function namedLimitsWithin(
  inner: readonly NamedRateLimit[],
  outer: readonly NamedRateLimit[],
): NamedRateLimit | undefined {
  return outer.find((own) => {
    const given = inner.find((limit) => limit.name === own.name);
    return !given || !rateLimitWithin(given, own);
  });
}

export type ContainmentCode =
  | 'SCOPE_NOT_ALLOWED'
  | 'PERMISSION_NOT_ALLOWED'
  | 'ROLE_NOT_ALLOWED'
  | 'EXPIRY_NOT_ALLOWED'
  | 'IP_ALLOWLIST_NOT_ALLOWED'
  | 'QUOTA_NOT_ALLOWED'
  | 'RATE_LIMIT_NOT_ALLOWED';

export interface ContainmentDenial {
  code: ContainmentCode;
  message: string;
}

/**
 * Whether a caller could have created a key with these terms: undefined if so, otherwise the
 * first term beyond the caller's own. The same rule holds for creating, changing and rotating,
 * so no caller can mint, edit or rotate its way past what it holds.
 */
export function beyondBounds(key: KeyTerms, bounds: KeyBounds): ContainmentDenial | undefined {
  const scopes = key.scopes.filter((scope) => !bounds.scopes.includes(scope));
  if (scopes.length) return { code: 'SCOPE_NOT_ALLOWED', message: `Beyond your own scopes: ${scopes.join(' ')}` };
  const permissions = beyond(key.permissions, bounds.permissions);
  if (permissions.length)
    return { code: 'PERMISSION_NOT_ALLOWED', message: `Beyond your own permissions: ${permissions.join(' ')}` };
  const roles = beyond(key.roles, bounds.roles);
  if (roles.length)
    return {
      code: 'ROLE_NOT_ALLOWED',
      message: `A key can only give roles it carries itself; not allowed: ${roles.join(' ')}`,
    };
  if (!expiryWithin(key.expiresAt, bounds.expiresAt))
    return { code: 'EXPIRY_NOT_ALLOWED', message: 'A key cannot make or change a key to outlive it' };
  if (!allowlistWithin(key.ipAllowlist, bounds.ipAllowlist))
    return { code: 'IP_ALLOWLIST_NOT_ALLOWED', message: 'A key can only give addresses within its own IP allowlist' };
  if (!quotaWithin(key.quota, bounds.quota))
    return { code: 'QUOTA_NOT_ALLOWED', message: 'A key with a quota can only give a smaller quota' };
  if (!rateLimitWithin(key.rateLimit, bounds.rateLimit)) {
    const own = bounds.rateLimit!;
    return {
      code: 'RATE_LIMIT_NOT_ALLOWED',
      message: `A key can only give a rate limit within its own (${own.limit} per ${own.windowSeconds} s)`,
    };
  }
  const named = namedLimitsWithin(key.ratelimits, bounds.ratelimits);
  if (named) {
    return {
      code: 'RATE_LIMIT_NOT_ALLOWED',
      message: `A key can only give its limit ${named.name} or a tighter one (${named.limit} per ${named.windowSeconds} s)`,
    };
  }
  return undefined;
}

const beyond = (given: readonly string[], allowed: readonly string[] | null): string[] =>
  allowed === null ? [] : given.filter((name) => !allowed.includes(name));

// ---------------------------------------------------------------------------------------------
// Expiry of a new key

export const DAY_MS = 86_400_000;

export type ExpiryDecision = { expiresAt: Date | null } | { invalid: string } | ContainmentDenial;

/**
 * The expiry of a new key: the one asked for (a time or a number of days), else the creating
 * key's own, else the tenant's longest lifetime; never past the tenant's longest lifetime.
 */
export function expiryOfNewKey(
  asked: { expiresAt?: string; expiresInDays?: number },
  creatorExpiresAt: Instant,
  maxLifetimeDays: number | null,
  now: Date,
): ExpiryDecision {
  if (asked.expiresAt !== undefined && asked.expiresInDays !== undefined)
    return { invalid: 'Give expiresAt or expiresInDays, not both' };
  const t = now.getTime();
  let expiresAt =
    asked.expiresAt !== undefined
      ? new Date(asked.expiresAt)
      : asked.expiresInDays !== undefined
        ? new Date(t + asked.expiresInDays * DAY_MS)
        : null;
  if (expiresAt && expiresAt.getTime() <= t) return { invalid: 'expiresAt must be in the future' };
  if (creatorExpiresAt !== null) {
    if (expiresAt && !expiryWithin(expiresAt, creatorExpiresAt))
      return { code: 'EXPIRY_NOT_ALLOWED', message: 'A key cannot create a key that outlives it' };
    expiresAt ??= new Date(ms(creatorExpiresAt)!);
  }
  if (maxLifetimeDays) {
    const latest = new Date(t + maxLifetimeDays * DAY_MS);
    if (expiresAt && expiresAt > latest)
      return { code: 'EXPIRY_NOT_ALLOWED', message: `Keys of this tenant live at most ${maxLifetimeDays} days` };
    expiresAt ??= latest;
  }
  return { expiresAt };
}

// ---------------------------------------------------------------------------------------------
// Caps

export type CapDenial = 'TENANT_CAP' | 'USER_CAP';

/** Whether one more key may hold a place, given the places held now. */
export function capReached(
  held: { tenant: number; owner: number | null },
  caps: { maxKeysPerTenant: number; maxKeysPerUser: number },
): CapDenial | undefined {
  if (held.tenant >= caps.maxKeysPerTenant) return 'TENANT_CAP';
  if (held.owner !== null && held.owner >= caps.maxKeysPerUser) return 'USER_CAP';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// From stored keys to terms and bounds

/** The columns of a stored key that containment looks at. */
export interface StoredKeyTerms {
  scopes: string[];
  expiresAt: Date | null;
  ipAllowlist: string[] | null;
  quotaRemaining: number | null;
  quotaRefill: QuotaRefill | null;
  rateLimit: RateLimitSetting | null;
  /** Named limits other than `default`; absent reads as none. */
  ratelimits?: readonly NamedRateLimit[] | null;
}

export const quotaTermsOf = (key: Pick<StoredKeyTerms, 'quotaRemaining' | 'quotaRefill'>): QuotaTerms | null =>
  key.quotaRemaining === null ? null : { remaining: key.quotaRemaining, refill: key.quotaRefill };

/** A stored key's terms; a key without a rate limit of its own has the tenant's default. */
export function termsOf(
  key: StoredKeyTerms,
  tenantRateLimit: RateLimitSetting,
  grants: KeyGrantNames = NONE,
): KeyTerms {
  return {
    permissions: grants.permissions,
    roles: grants.roles,
    scopes: key.scopes,
    expiresAt: key.expiresAt,
    ipAllowlist: key.ipAllowlist,
    quota: quotaTermsOf(key),
    rateLimit: key.rateLimit ?? tenantRateLimit,
    ratelimits: key.ratelimits ?? [],
  };
}

/**
 * What a request made with this key may hand out: its effective scopes, its own terms, its
 * effective permissions (its own and its roles') and the roles it carries.
 */
export function boundsOfKey(
  scopes: readonly string[],
  key: StoredKeyTerms,
  tenantRateLimit: RateLimitSetting,
  held: { effectivePermissions: readonly string[]; roles: readonly string[] } = {
    effectivePermissions: [],
    roles: [],
  },
): KeyBounds {
  return { ...termsOf(key, tenantRateLimit), scopes, permissions: held.effectivePermissions, roles: held.roles };
}
