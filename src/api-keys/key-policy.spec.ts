import { Principal } from '../common/auth/principal';
import { SCOPES } from '../common/auth/scopes';
import {
  beyondBounds,
  boundsOfKey,
  boundsOfPerson,
  capReached,
  expiryOfNewKey,
  grantableScopes,
  holdsPlace,
  KeyBounds,
  keyDenial,
  KeyLifecycle,
  keyStatus,
  KeyTerms,
  managesTenant,
  ownerOfNewKey,
  quotaWithin,
  rateLimitWithin,
  seesAllKeys,
  statusSql,
  termsOf,
  visibleOwner,
} from './key-policy';

const NOW = new Date('2026-06-01T12:00:00Z');
const BEFORE = new Date(NOW.getTime() - 1000);
const AFTER = new Date(NOW.getTime() + 1000);
const fresh: KeyLifecycle = { revokedAt: null, graceUntil: null, expiresAt: null, disabledAt: null };

const user = (role: Principal['role'], userId = 'u1'): Principal => ({
  kind: 'user',
  tenantId: 't',
  userId,
  role,
  scopes: [],
});
const key = (userId: string | undefined, scopes: string[] = [...SCOPES]): Principal => ({
  kind: 'apiKey',
  tenantId: 't',
  userId,
  apiKeyId: 'k',
  scopes,
});
const operator: Principal = { kind: 'admin', scopes: [] };

describe('key status', () => {
  it.each<[string, Partial<KeyLifecycle>, string, boolean]>([
    ['fresh', {}, 'active', true],
    ['disabled', { disabledAt: BEFORE }, 'disabled', true],
    ['revoked', { revokedAt: BEFORE }, 'revoked', false],
    ['in its grace period', { graceUntil: AFTER }, 'active', true],
    ['grace over', { graceUntil: NOW }, 'revoked', false],
    ['expired', { expiresAt: NOW }, 'expired', false],
    ['expiring later', { expiresAt: AFTER }, 'active', true],
    ['revoked and expired', { revokedAt: BEFORE, expiresAt: BEFORE }, 'revoked', false],
    ['expired and disabled', { expiresAt: BEFORE, disabledAt: BEFORE }, 'expired', false],
  ])('%s: %s, holds a place under the caps: %s', (_, changes, status, holds) => {
    const lifecycle = { ...fresh, ...changes };
    expect(keyStatus(lifecycle, NOW)).toBe(status);
    expect(holdsPlace(lifecycle, NOW)).toBe(holds);
    // The verifier's cache holds epoch milliseconds: same answers.
    const asNumbers = Object.fromEntries(
      Object.entries(lifecycle).map(([k, v]) => [k, v === null ? null : new Date(v).getTime()]),
    ) as unknown as KeyLifecycle;
    expect(keyStatus(asNumbers, NOW.getTime())).toBe(status);
  });

  it.each<[string, Partial<KeyLifecycle & { ownerActive: boolean; tenantActive: boolean }>, string | undefined]>([
    ['usable', {}, undefined],
    ['revoked', { revokedAt: BEFORE }, 'KEY_REVOKED'],
    ['grace over', { graceUntil: BEFORE }, 'KEY_REVOKED'],
    ['owner no longer active', { ownerActive: false }, 'KEY_REVOKED'],
    ['expired', { expiresAt: BEFORE }, 'KEY_EXPIRED'],
    ['tenant suspended', { tenantActive: false }, 'TENANT_SUSPENDED'],
    ['disabled', { disabledAt: BEFORE }, 'KEY_DISABLED'],
    // The order of the checks: the first that applies is the answer.
    [
      'revoked, expired, suspended, disabled',
      { revokedAt: BEFORE, expiresAt: BEFORE, tenantActive: false, disabledAt: BEFORE },
      'KEY_REVOKED',
    ],
    ['expired, suspended, disabled', { expiresAt: BEFORE, tenantActive: false, disabledAt: BEFORE }, 'KEY_EXPIRED'],
    ['suspended and disabled', { tenantActive: false, disabledAt: BEFORE }, 'TENANT_SUSPENDED'],
  ])('keyDenial: %s → %s', (_, changes, code) => {
    expect(keyDenial({ ...fresh, ownerActive: true, tenantActive: true, ...changes }, NOW)).toBe(code);
  });

  it.each([
    ['active', 'k.disabled_at IS NULL'],
    ['disabled', 'k.disabled_at IS NOT NULL'],
    ['revoked', 'k.revoked_at IS NOT NULL OR k.grace_until <= :now'],
    ['expired', 'k.expires_at <= :now'],
    ['holdsPlace', '(k.expires_at IS NULL OR k.expires_at > :now)'],
  ] as const)('statusSql(%s) says %s', (status, fragment) => {
    expect(statusSql(status, ':now')).toContain(fragment);
  });
});

describe('who sees and owns keys', () => {
  it.each<[string, Principal, string | null | undefined, boolean]>([
    ['owner', user('owner'), undefined, true],
    ['admin', user('admin'), undefined, true],
    ['member', user('member'), 'u1', false],
    ['viewer', user('viewer'), 'u1', false],
    ["a user's key", key('u1'), 'u1', false],
    ['a service key', key(undefined), undefined, true],
    ['the operator', operator, undefined, true],
  ])('%s sees the keys of %s', (_, caller, owner, all) => {
    expect(visibleOwner(caller)).toBe(owner);
    expect(seesAllKeys(caller)).toBe(all);
  });

  it.each([
    ['owner', true],
    ['admin', true],
    ['member', false],
    ['viewer', false],
    [undefined, false],
  ] as const)('managesTenant(%s) = %s', (role, manages) => expect(managesTenant(role)).toBe(manages));

  it.each<[string, Principal, { userId?: string | null; service?: boolean }, object]>([
    ['member, own key', user('member'), {}, { ownerId: 'u1' }],
    ['member, for another', user('member'), { userId: 'u2' }, { denied: expect.stringContaining('owners and admins') }],
    ['member, service key', user('member'), { service: true }, { denied: expect.any(String) }],
    ['admin, for another', user('admin'), { userId: 'u2' }, { ownerId: 'u2' }],
    ['owner, service key', user('owner'), { service: true }, { ownerId: null }],
    ["a user's key, for its owner", key('u1'), { userId: 'u1' }, { ownerId: 'u1' }],
    ["a user's key, service key", key('u1'), { service: true }, { denied: expect.stringContaining('its own owner') }],
    ['a service key, service key', key(undefined), {}, { ownerId: null }],
    ['a service key, for a user', key(undefined), { userId: 'u1' }, { denied: expect.any(String) }],
    ['the operator, for a user', operator, { userId: 'u3' }, { ownerId: 'u3' }],
    ['the operator, nobody named', operator, {}, { ownerId: null }],
  ])('ownerOfNewKey: %s', (_, caller, asked, decision) => {
    expect(ownerOfNewKey(caller, asked)).toEqual(decision);
  });

  it.each<[string, Principal, Principal['role'] | null, string[]]>([
    ['the operator', operator, null, [...SCOPES]],
    ['a member', user('member'), null, ['keys:read', 'keys:write', 'config:read', 'users:read', 'permissions:read']],
    ['a key', key('u1', ['config:read', 'audit:read']), null, ['config:read', 'audit:read']],
    [
      "an owner, for a viewer's key",
      user('owner'),
      'viewer',
      ['keys:read', 'config:read', 'users:read', 'permissions:read'],
    ],
    ["a key, for a member's key", key('u1', ['config:read', 'audit:read']), 'member', ['config:read']],
  ])('grantableScopes: %s', (_, caller, ownerRole, scopes) => {
    expect(grantableScopes(caller, ownerRole)).toEqual(scopes);
  });
});

describe('containment', () => {
  it.each<[string, number | null, number | null, boolean]>([
    ['no quota within none', null, null, true],
    ['a quota within none', 5, null, true],
    ['no quota within one', null, 10, false],
    ['fewer uses', 5, 10, true],
    ['as many uses', 10, 10, true],
    ['more uses', 11, 10, false],
  ])('quotaWithin: %s', (_, inner, outer, within) => {
    const q = (remaining: number | null) => (remaining === null ? null : { remaining, refill: null });
    expect(quotaWithin(q(inner), q(outer))).toBe(within);
  });

  it.each<[string, object | null, object | null, boolean]>([
    ['no refill within a refill', null, { amount: 10, interval: 'day' }, true],
    ['a refill within none', { amount: 1, interval: 'month' }, null, false],
    ['smaller monthly within daily', { amount: 5, interval: 'month' }, { amount: 10, interval: 'day' }, true],
    ['daily within monthly', { amount: 5, interval: 'day' }, { amount: 10, interval: 'month' }, false],
    ['bigger refill', { amount: 11, interval: 'day' }, { amount: 10, interval: 'day' }, false],
  ])('quotaWithin refills: %s', (_, inner, outer, within) => {
    expect(quotaWithin({ remaining: 1, refill: inner as never }, { remaining: 10, refill: outer as never })).toBe(
      within,
    );
  });

  it.each<[string, [number, number], [number, number] | null, boolean]>([
    ['no bound', [1_000_000, 1], null, true],
    ['the same', [3, 60], [3, 60], true],
    ['slower', [1, 60], [3, 60], true],
    ['same burst, longer window', [3, 3600], [3, 60], true],
    ['faster', [4, 60], [3, 60], false],
    ['same rate, bigger burst', [6, 120], [3, 60], false],
    ['smaller burst, faster rate', [1, 1], [3, 60], false],
    ['a million per second over 3 a minute', [1_000_000, 1], [3, 60], false],
  ])('rateLimitWithin: %s', (_, [limit, windowSeconds], outer, within) => {
    expect(rateLimitWithin({ limit, windowSeconds }, outer && { limit: outer[0], windowSeconds: outer[1] })).toBe(
      within,
    );
  });

  const terms: KeyTerms = {
    scopes: ['config:read'],
    expiresAt: new Date('2026-07-01'),
    ipAllowlist: ['10.1.0.0/16'],
    quota: { remaining: 5, refill: null },
    rateLimit: { limit: 3, windowSeconds: 60 },
    permissions: ['orders:read'],
    roles: ['support'],
    ratelimits: [{ name: 'expensive', limit: 2, windowSeconds: 60 }],
  };
  const bounds: KeyBounds = {
    scopes: ['config:read', 'keys:write'],
    expiresAt: new Date('2026-08-01'),
    ipAllowlist: ['10.0.0.0/8'],
    quota: { remaining: 10, refill: null },
    rateLimit: { limit: 3, windowSeconds: 60 },
    permissions: ['orders:read', 'invoices:read'],
    roles: ['support', 'billing'],
    ratelimits: [{ name: 'expensive', limit: 2, windowSeconds: 60 }],
  };

  it.each<[string, Partial<KeyTerms>, string | undefined]>([
    ['within every bound', {}, undefined],
    ['a scope beyond', { scopes: ['config:read', 'config:secrets'] }, 'SCOPE_NOT_ALLOWED'],
    ['outliving', { expiresAt: new Date('2026-09-01') }, 'EXPIRY_NOT_ALLOWED'],
    ['never expiring', { expiresAt: null }, 'EXPIRY_NOT_ALLOWED'],
    ['any address', { ipAllowlist: null }, 'IP_ALLOWLIST_NOT_ALLOWED'],
    ['other addresses', { ipAllowlist: ['192.168.0.0/16'] }, 'IP_ALLOWLIST_NOT_ALLOWED'],
    ['unlimited uses', { quota: null }, 'QUOTA_NOT_ALLOWED'],
    ['more uses', { quota: { remaining: 11, refill: null } }, 'QUOTA_NOT_ALLOWED'],
    ['a faster rate', { rateLimit: { limit: 1_000_000, windowSeconds: 1 } }, 'RATE_LIMIT_NOT_ALLOWED'],
    ['a tenant permission beyond', { permissions: ['orders:read', 'orders:write'] }, 'PERMISSION_NOT_ALLOWED'],
    ['permissions are case-sensitive', { permissions: ['Orders:read'] }, 'PERMISSION_NOT_ALLOWED'],
    ['a role it does not carry', { roles: ['admin'] }, 'ROLE_NOT_ALLOWED'],
    ['no permissions or roles at all', { permissions: [], roles: [] }, undefined],
    ['without a named limit the caller has', { ratelimits: [] }, 'RATE_LIMIT_NOT_ALLOWED'],
    [
      'a looser named limit',
      { ratelimits: [{ name: 'expensive', limit: 3, windowSeconds: 60 }] },
      'RATE_LIMIT_NOT_ALLOWED',
    ],
    [
      'a tighter named limit and one of its own',
      {
        ratelimits: [
          { name: 'expensive', limit: 1, windowSeconds: 60 },
          { name: 'search', limit: 1_000, windowSeconds: 1 },
        ],
      },
      undefined,
    ],
    // The first term beyond is the answer.
    [
      'beyond in scopes and rate',
      { scopes: ['audit:read'], rateLimit: { limit: 9, windowSeconds: 1 } },
      'SCOPE_NOT_ALLOWED',
    ],
  ])('beyondBounds, a key: %s → %s', (_, changes, code) => {
    expect(beyondBounds({ ...terms, ...changes }, bounds)?.code).toBe(code);
  });

  it.each<[string, Principal, string[], string | undefined, string[]?]>([
    ['a member, within its role', user('member'), ['keys:read', 'config:read'], undefined],
    ['a member, beyond its role', user('member'), ['config:secrets'], 'SCOPE_NOT_ALLOWED'],
    ['an admin, anything', user('admin'), [...SCOPES], undefined],
    ['an admin, any tenant permission', user('admin'), ['keys:read'], undefined, ['orders:write']],
    ['an owner, any tenant permission', user('owner'), ['keys:read'], undefined, ['orders:write']],
    ['a member, no tenant permission', user('member'), ['keys:read'], 'PERMISSION_NOT_ALLOWED', ['orders:read']],
  ])('beyondBounds, a person: %s → %s', (_, caller, scopes, code, permissions = []) => {
    // A person carries no allowlist, quota, expiry or rate limit to pass on.
    const unbounded: KeyTerms = {
      scopes,
      expiresAt: null,
      ipAllowlist: null,
      quota: null,
      rateLimit: { limit: 1_000_000, windowSeconds: 1 },
      permissions,
      roles: [],
      ratelimits: [{ name: 'expensive', limit: 1_000_000, windowSeconds: 1 }],
    };
    expect(beyondBounds(unbounded, boundsOfPerson(caller))?.code).toBe(code);
  });

  it('a stored key without a rate limit has the tenant default, as terms and as bounds', () => {
    const stored = {
      scopes: ['keys:write'],
      expiresAt: null,
      ipAllowlist: null,
      quotaRemaining: 4,
      quotaRefill: null,
      rateLimit: null,
    };
    const tenantDefault = { limit: 100, windowSeconds: 1 };
    expect(termsOf(stored, tenantDefault)).toEqual({
      scopes: ['keys:write'],
      expiresAt: null,
      ipAllowlist: null,
      quota: { remaining: 4, refill: null },
      rateLimit: tenantDefault,
      permissions: [],
      roles: [],
      ratelimits: [],
    });
    expect(boundsOfKey(['keys:read'], stored, tenantDefault).scopes).toEqual(['keys:read']);
  });
});

describe('expiry of a new key', () => {
  const days = (n: number) => new Date(NOW.getTime() + n * 86_400_000);
  it.each<[string, { expiresAt?: string; expiresInDays?: number }, Date | null, number | null, object]>([
    ['nothing asked, no bounds', {}, null, null, { expiresAt: null }],
    ['in 3 days', { expiresInDays: 3 }, null, null, { expiresAt: days(3) }],
    ['at a time', { expiresAt: days(2).toISOString() }, null, null, { expiresAt: days(2) }],
    [
      'both',
      { expiresAt: days(2).toISOString(), expiresInDays: 2 },
      null,
      null,
      { invalid: expect.stringContaining('not both') },
    ],
    ['in the past', { expiresAt: BEFORE.toISOString() }, null, null, { invalid: expect.stringContaining('future') }],
    ['the creator’s by default', {}, days(5), null, { expiresAt: days(5) }],
    [
      'past the creator',
      { expiresInDays: 6 },
      days(5),
      null,
      { code: 'EXPIRY_NOT_ALLOWED', message: expect.any(String) },
    ],
    ['the tenant’s longest by default', {}, null, 30, { expiresAt: days(30) }],
    [
      'past the tenant’s longest',
      { expiresInDays: 31 },
      null,
      30,
      { code: 'EXPIRY_NOT_ALLOWED', message: expect.stringContaining('30 days') },
    ],
    ['the creator’s, sooner than the tenant’s', {}, days(5), 30, { expiresAt: days(5) }],
  ])('%s', (_, asked, creator, maxDays, decision) => {
    expect(expiryOfNewKey(asked, creator, maxDays, NOW)).toEqual(decision);
  });
});

describe('caps', () => {
  const caps = { maxKeysPerTenant: 5, maxKeysPerUser: 2 };
  it.each<[string, { tenant: number; owner: number | null }, string | undefined]>([
    ['room left', { tenant: 4, owner: 1 }, undefined],
    ['tenant full', { tenant: 5, owner: 0 }, 'TENANT_CAP'],
    ['owner full', { tenant: 3, owner: 2 }, 'USER_CAP'],
    ['a service key, tenant has room', { tenant: 4, owner: null }, undefined],
  ])('%s → %s', (_, held, reached) => {
    expect(capReached(held, caps)).toBe(reached);
  });
});
