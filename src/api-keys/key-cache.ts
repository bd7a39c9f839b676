import type { FactoryProvider } from '@nestjs/common';
import { BoundedCache } from '../common/cache/bounded-cache';
import { Principal } from '../common/auth/principal';
import { AppConfig } from '../config/app-config';
import { Invalidation, InvalidationBus } from '../invalidation/invalidation.bus';
import { DEFAULT_LIMIT_NAME, NamedRateLimit, RateLimitSetting } from '../rate-limit/rate-limit.types';

/** A named limit with the counter it is spent on, named once per cache entry. */
export interface CachedLimit extends NamedRateLimit {
  counter: string;
}

/** The identity a key belongs to, as verification needs it. */
export interface CachedIdentity {
  id: string;
  externalId: string;
  meta: Record<string, unknown>;
  /** Its limits, each one counter shared by all its keys; `defaultLimit` is the one named `default`. */
  limits: readonly CachedLimit[];
  defaultLimit: CachedLimit | null;
  hasQuota: boolean;
  /** What the verify answer shows of it, built once; frozen because it is shared. */
  answer: Readonly<{ externalId: string; meta: Record<string, unknown> }>;
}

/** What verification needs to know about a key, and the principal it authenticates as. */
export interface CachedKey {
  id: string;
  tenantId: string;
  userId: string | null;
  name: string;
  /** The key's metadata, shared by every answer about it: frozen. */
  metadata: Readonly<Record<string, unknown>>;
  scopes: string[];
  /** Effective tenant permissions (the key's own and its roles'), sorted, computed once per entry. */
  permissions: readonly string[];
  roles: readonly string[];
  /** The same permissions for the permission query, so a check allocates nothing. */
  permissionSet: ReadonlySet<string>;
  expiresAt: number | null;
  revokedAt: number | null;
  disabledAt: number | null;
  graceUntil: number | null;
  ipAllowlist: string[] | null;
  tenantActive: boolean;
  ownerActive: boolean;
  /** The key's own limit, or its tenant's default. */
  rateLimit: RateLimitSetting;
  /** The key's named limits other than `default`, each on a counter of its own. */
  limits: readonly CachedLimit[];
  /** Only keys with a quota cost a database write per use. */
  hasQuota: boolean;
  identity: CachedIdentity | null;
  /** The key's quota or its identity's: a use costs a database write. */
  spendsQuota: boolean;
  /** Built once per cache entry rather than per request; frozen because it is shared. */
  principal: Principal;
  /** The key's rate-limit counter, named once rather than per request. */
  limitName: string;
  /**
   * The counters a limit name is spent on (the key's own, then its identity's), for every name
   * the key or its identity has, so a verify call looks them up instead of building them.
   */
  bucketsByName: ReadonlyMap<string, readonly CachedLimit[]>;
}

export type CachedKeyFields = Omit<
  CachedKey,
  | 'principal'
  | 'limitName'
  | 'limits'
  | 'identity'
  | 'spendsQuota'
  | 'bucketsByName'
  | 'permissionSet'
  | 'permissions'
  | 'roles'
  | 'name'
  | 'metadata'
> &
  Partial<Pick<CachedKey, 'permissions' | 'roles' | 'name' | 'metadata'>> & {
    ratelimits?: readonly NamedRateLimit[];
    identity?: {
      id: string;
      externalId: string;
      meta: Record<string, unknown>;
      ratelimits: readonly NamedRateLimit[];
      hasQuota: boolean;
    } | null;
  };

const limitOn = (prefix: string, limit: NamedRateLimit): CachedLimit =>
  Object.freeze({
    name: limit.name,
    limit: limit.limit,
    windowSeconds: limit.windowSeconds,
    counter: `${prefix}:${limit.name}`,
  });

function cachedIdentity(identity: NonNullable<CachedKeyFields['identity']>): CachedIdentity {
  const limits = Object.freeze(identity.ratelimits.map((limit) => limitOn(`identity:${identity.id}`, limit)));
  const meta = Object.freeze({ ...identity.meta });
  return Object.freeze({
    id: identity.id,
    externalId: identity.externalId,
    meta,
    limits,
    defaultLimit: limits.find((limit) => limit.name === DEFAULT_LIMIT_NAME) ?? null,
    hasQuota: identity.hasQuota,
    answer: Object.freeze({ externalId: identity.externalId, meta }),
  });
}

export function withPrincipal(key: CachedKeyFields): CachedKey {
  const permissions = Object.freeze([...(key.permissions ?? [])]);
  const permissionSet: ReadonlySet<string> = new Set(permissions);
  const principal: Principal = Object.freeze({
    kind: 'apiKey',
    tenantId: key.tenantId,
    userId: key.userId ?? undefined,
    apiKeyId: key.id,
    scopes: Object.freeze([...key.scopes]) as string[],
    permissions: permissionSet,
  });
  const identity = key.identity ? cachedIdentity(key.identity) : null;
  const limits = Object.freeze((key.ratelimits ?? []).map((limit) => limitOn(`key:${key.id}`, limit)));
  // The default limit keeps the counter name it always had, so an upgrade does not reset it.
  const limitName = `key:${key.id}`;
  const defaultBucket: CachedLimit = Object.freeze({
    name: DEFAULT_LIMIT_NAME,
    limit: key.rateLimit.limit,
    windowSeconds: key.rateLimit.windowSeconds,
    counter: limitName,
  });
  const bucketsByName = new Map<string, readonly CachedLimit[]>();
  for (const limit of [defaultBucket, ...limits, ...(identity?.limits ?? [])])
    bucketsByName.set(limit.name, Object.freeze([...(bucketsByName.get(limit.name) ?? []), limit]));
  // Field by field, not by object rest and spread: one of these is built on every cache miss,
  // and copying through rest and spread cost several microseconds of it.
  return {
    id: key.id,
    tenantId: key.tenantId,
    userId: key.userId,
    name: key.name ?? '',
    metadata: Object.freeze({ ...(key.metadata ?? {}) }),
    scopes: key.scopes,
    permissions,
    roles: Object.freeze([...(key.roles ?? [])]),
    permissionSet,
    expiresAt: key.expiresAt,
    revokedAt: key.revokedAt,
    disabledAt: key.disabledAt,
    graceUntil: key.graceUntil,
    ipAllowlist: key.ipAllowlist,
    tenantActive: key.tenantActive,
    ownerActive: key.ownerActive,
    rateLimit: key.rateLimit,
    limits,
    hasQuota: key.hasQuota,
    identity,
    spendsQuota: key.hasQuota || Boolean(identity?.hasQuota),
    principal,
    limitName,
    bucketsByName,
  };
}

/**
 * A bounded LRU of verification lookups, keyed by the key as presented: found keys for a
 * minute, unknown keys for a few seconds (so a flood of bad keys costs one query each per
 * few seconds, not per request). Changes to a key drop its entry at once, here and, through
 * the invalidation bus, on other instances. A lookup that an invalidation overtook is not
 * stored (the epoch guard of `BoundedCache`).
 */
export class KeyCache {
  private readonly lookups: BoundedCache<CachedKey | null>;
  private readonly presentedById = new Map<string, string>();

  constructor(
    maxEntries = 50_000,
    private readonly positiveTtlMs = 60_000,
    private readonly negativeTtlMs = 5_000,
    /** Shortens lifetimes while changes from other instances may not arrive (InvalidationBus.cacheTtl). */
    private readonly capTtl: (ttlMs: number) => number = (ttlMs) => ttlMs,
  ) {
    this.lookups = new BoundedCache(maxEntries, (presented, key) => {
      if (key && this.presentedById.get(key.id) === presented) this.presentedById.delete(key.id);
    });
  }

  /** undefined: not cached; null: cached as unknown. */
  get(presented: string, now: number): CachedKey | null | undefined {
    return this.lookups.get(presented, now);
  }

  /** Read before a database lookup and pass to `set`, so a stale result is never cached. */
  get epoch(): number {
    return this.lookups.epoch;
  }

  set(presented: string, key: CachedKey | null, now: number, epoch: number): void {
    if (this.positiveTtlMs === 0) return;
    const until = now + this.capTtl(key ? this.positiveTtlMs : this.negativeTtlMs);
    if (this.lookups.set(presented, key, until, epoch) && key) this.presentedById.set(key.id, presented);
  }

  /** What a change on the bus means for cached keys. */
  invalidate(change: Invalidation | { kind: 'all' }): void {
    if (change.kind === 'key') this.forgetKey(change.keyId);
    else if (change.kind === 'tenant') this.forgetTenant(change.tenantId);
    else if (change.kind === 'user') this.forgetUser(change.userId);
    else if (change.kind === 'identity') this.forgetIdentity(change.identityId);
    else if (change.kind === 'all') this.clear();
  }

  forgetKey(id: string): void {
    this.lookups.invalidate(this.presentedById.get(id));
  }

  forgetTenant(tenantId: string): void {
    this.lookups.invalidateWhere((key) => key?.tenantId === tenantId);
  }

  forgetUser(userId: string): void {
    this.lookups.invalidateWhere((key) => key?.userId === userId);
  }

  /** Every key of an identity whose meta, limits or quota changed, or which was deleted. */
  forgetIdentity(identityId: string): void {
    this.lookups.invalidateWhere((key) => key?.identity?.id === identityId);
  }

  clear(): void {
    this.lookups.clear();
  }

  get size(): number {
    return this.lookups.size;
  }
}

/** The instance's key cache, told of every change on the invalidation bus. */
export const KEY_CACHE_PROVIDER: FactoryProvider<KeyCache> = {
  provide: KeyCache,
  inject: [AppConfig, InvalidationBus],
  useFactory: (config: AppConfig, bus: InvalidationBus) => {
    const cache = new KeyCache(50_000, config.keyCacheTtlSeconds * 1000, 5_000, (ttlMs) => bus.cacheTtl(ttlMs));
    bus.subscribe((change) => cache.invalidate(change));
    return cache;
  },
};
