import { HttpStatus, Injectable } from '@nestjs/common';
import { BlockList, isIPv4 } from 'node:net';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { ROLE_SCOPES } from '../common/auth/scopes';
import { AppException } from '../common/http/problem';
import { MaybePromise, someInOrder, then } from '../common/maybe-promise';
import { blockListOf } from './ip-allowlist';
import { LRUCache } from 'lru-cache';
import { READ } from '../common/cache/bounded-cache';
import { CachedKey, KeyCache, withPrincipal } from './key-cache';
import { KeyFormat } from './key-format';
import { keyDenial } from './key-policy';
import { KeyLookupRepository, KeyLookupRow, QuotaTarget } from './key-lookup.repository';
import { DEFAULT_LIMIT_NAME, RateLimitResult } from '../rate-limit/rate-limit.types';
import { KeyUsageService } from './key-usage.service';
import { KeyDenialsService } from '../audit/key-denials.service';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { Metrics } from '../metrics/metrics.service';
import { PermissionQuery, satisfies } from '../permissions/permission-query';

export type DenialCode =
  | 'KEY_MISSING'
  | 'KEY_MALFORMED'
  | 'KEY_NOT_FOUND'
  | 'KEY_REVOKED'
  | 'KEY_EXPIRED'
  | 'KEY_DISABLED'
  | 'TENANT_SUSPENDED'
  | 'INSUFFICIENT_SCOPE'
  | 'INSUFFICIENT_PERMISSIONS'
  | 'KEY_IP_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED';

const DENIAL_STATUS: Record<DenialCode, HttpStatus> = {
  KEY_MISSING: HttpStatus.UNAUTHORIZED,
  KEY_MALFORMED: HttpStatus.UNAUTHORIZED,
  KEY_NOT_FOUND: HttpStatus.UNAUTHORIZED,
  KEY_REVOKED: HttpStatus.UNAUTHORIZED,
  KEY_EXPIRED: HttpStatus.UNAUTHORIZED,
  KEY_DISABLED: HttpStatus.FORBIDDEN,
  TENANT_SUSPENDED: HttpStatus.FORBIDDEN,
  INSUFFICIENT_SCOPE: HttpStatus.FORBIDDEN,
  INSUFFICIENT_PERMISSIONS: HttpStatus.FORBIDDEN,
  KEY_IP_NOT_ALLOWED: HttpStatus.FORBIDDEN,
  RATE_LIMITED: HttpStatus.TOO_MANY_REQUESTS,
  QUOTA_EXCEEDED: HttpStatus.TOO_MANY_REQUESTS,
};

const DENIAL_MESSAGE: Record<DenialCode, string> = {
  KEY_MISSING: 'An x-api-key header is required',
  KEY_MALFORMED: 'This is not a valid API key',
  KEY_NOT_FOUND: 'Unknown API key',
  KEY_REVOKED: 'This API key has been revoked',
  KEY_EXPIRED: 'This API key has expired',
  KEY_DISABLED: 'This API key is disabled',
  TENANT_SUSPENDED: 'The tenant of this API key is suspended',
  INSUFFICIENT_SCOPE: 'This API key lacks a required scope',
  INSUFFICIENT_PERMISSIONS: 'This API key lacks the permissions the request needs',
  KEY_IP_NOT_ALLOWED: 'This API key may not be used from this address',
  RATE_LIMITED: 'Too many requests with this API key; retry later',
  QUOTA_EXCEEDED: 'This API key has used up its quota',
};

/** QUOTA_EXCEEDED for a quota without refill: waiting will not help. */
const QUOTA_USED_UP_MESSAGE =
  'This API key has used up its quota for good (it has no refill): retrying will not help; raise its quota or use another key';

/** Where RateLimit-* headers go: a Fastify reply. */
export interface HeaderSink {
  header(name: string, value: number): unknown;
}

/** Why a request may not use a key it presents (undefined: it may), for `refusal`. */
export interface UseContext {
  /** The caller's address; absent when a key is checked on someone else's behalf. */
  ip?: string;
  /** The scopes the request needs; absent for a check of the key alone. */
  requiredScopes?: readonly string[];
  /** The tenant permissions the request needs, as a parsed query. */
  permissions?: PermissionQuery;
}

/** What a verify call spends: named limits, each by a cost, and the quota by `cost`. */
export interface SpendRequest {
  ratelimits: readonly { name: string; cost: number }[];
  cost: number;
}

/** The state of one limit after a verify call spent it (reset: seconds until its window ends). */
export interface LimitState {
  name: string;
  limit: number;
  remaining: number;
  reset: number;
}

/** The outcome of a verify call: the refusal (if any), the limits it spent, the quota left (null: unlimited). */
export interface Verification {
  key?: CachedKey;
  code?: DenialCode;
  ratelimits: LimitState[];
  remaining: number | null;
}

/** Spends the `default` limit by one: what a request with the key costs. */
export const DEFAULT_SPEND: SpendRequest = Object.freeze({
  ratelimits: Object.freeze([Object.freeze({ name: DEFAULT_LIMIT_NAME, cost: 1 })]),
  cost: 1,
});

/** Of two counts of one use, the one that decides: a refusal, else the one with fewer left. */
const tighter = (a: RateLimitResult, b: RateLimitResult): RateLimitResult =>
  !b.allowed || (a.allowed && b.remaining < a.remaining) ? b : a;

export function denial(code: DenialCode, details?: unknown): AppException {
  return new AppException(DENIAL_STATUS[code], code, DENIAL_MESSAGE[code], details);
}

/**
 * The key domain's side of the request pipeline (the global guard calls it through
 * ApiKeyCredential): find a presented key (format and checksum, cache, one indexed lookup on a
 * miss), tell whether it may be used, spend its rate limit and quota once the request is known
 * to be allowed, and count every outcome once — a use, or a denial with its code in usage,
 * metrics and the denied-use audit. No write happens here; usage is counted in memory.
 */
@Injectable()
export class ApiKeyVerifier {
  readonly format: KeyFormat;
  private readonly allowlists = new LRUCache<string, BlockList>({ max: 10_000 });

  constructor(
    config: AppConfig,
    private readonly lookups: KeyLookupRepository,
    private readonly clock: Clock,
    private readonly cache: KeyCache,
    private readonly usage: KeyUsageService,
    private readonly limits: RateLimitService,
    private readonly denials: KeyDenialsService,
    private readonly metrics: Metrics,
  ) {
    this.format = new KeyFormat(config.keyPrefix, config.keyPepper);
  }

  /**
   * The key as presented: undefined when it is malformed, null when no such key exists.
   * Synchronous when the key is cached (the common case); a promise only when the database
   * must be asked.
   */
  find(rawKey: string): MaybePromise<CachedKey | null | undefined> {
    if (!this.format.hasShape(rawKey)) return undefined;
    // Cached under the key itself: in the running server a one-shot SHA-256 of it cost more than
    // the rest of a cache hit, and a heap that holds the cache also holds the pepper and the JWT
    // secret, so a digest here would add little protection. The cache is never written out.
    const cached = this.cache.get(rawKey, this.clock.now().getTime());
    if (cached !== undefined) {
      this.metrics.keyCacheLookup(true);
      return cached;
    }
    // Only keys that pass the checksum reach the database (and the negative cache).
    if (!this.format.checksumMatches(rawKey)) return undefined;
    this.metrics.keyCacheLookup(false);
    return this.load(rawKey);
  }

  /** The code that refuses this use of the key, or undefined when it may be used. */
  refusal(key: CachedKey, use: UseContext): DenialCode | undefined {
    const denied = keyDenial(key, this.clock.now().getTime());
    if (denied) return denied;
    if (use.ip !== undefined && key.ipAllowlist?.length && !this.ipAllowed(key, use.ip)) return 'KEY_IP_NOT_ALLOWED';
    if (use.requiredScopes?.some((scope) => !key.scopes.includes(scope))) return 'INSUFFICIENT_SCOPE';
    if (use.permissions && !satisfies(use.permissions, key.permissionSet)) return 'INSUFFICIENT_PERMISSIONS';
    return undefined;
  }

  /**
   * A key checked on behalf of its tenant (a service asking whether a key it received is good):
   * the key when it is one of the tenant's, and the code that refuses it, if any. A valid key
   * spends what the call names (by default one use of its `default` limit and of its quota):
   * its rate limits and quota apply to checks on its behalf. A key of another tenant is answered
   * exactly like an unknown one, and nothing of it is counted.
   */
  verifyFor(
    tenantId: string,
    rawKey: string,
    requiredScopes?: readonly string[],
    permissions?: PermissionQuery,
    spending: SpendRequest = DEFAULT_SPEND,
  ): MaybePromise<Verification> {
    return then(this.find(rawKey), (key): MaybePromise<Verification> => {
      if (!key || key.tenantId !== tenantId) {
        const code = key === undefined ? 'KEY_MALFORMED' : 'KEY_NOT_FOUND';
        this.metrics.keyVerified(code);
        return { code, ratelimits: [], remaining: null };
      }
      const code = this.refusal(key, { requiredScopes, permissions });
      if (code) {
        this.countDenial(key, code);
        return { key, code, ratelimits: [], remaining: null };
      }
      return this.spendNamed(key, spending);
    });
  }

  /**
   * Spends one use of a key that is allowed to make this request: its `default` rate limit (and
   * its identity's, shared by all the identity's keys), then its quota (and its identity's);
   * counts the use, or throws the denial (counted). The rate-limit state goes to `headers` (the
   * reply) as RateLimit-* headers. Synchronous when the limits are counted in memory and there
   * is no quota, as on every cached request without Redis.
   */
  spend(key: CachedKey, ip?: string, headers?: HeaderSink): MaybePromise<void> {
    return then(this.limits.consume(key.limitName, key.rateLimit.limit, key.rateLimit.windowSeconds), (own) => {
      const shared = key.identity?.defaultLimit;
      if (!shared || !own.allowed) return this.afterLimit(key, own, ip, headers);
      return then(this.limits.consume(shared.counter, shared.limit, shared.windowSeconds), (identity) =>
        this.afterLimit(key, tighter(own, identity), ip, headers),
      );
    });
  }

  private afterLimit(key: CachedKey, limit: RateLimitResult, ip?: string, headers?: HeaderSink): MaybePromise<void> {
    if (headers) {
      headers.header('ratelimit-limit', limit.limit);
      headers.header('ratelimit-remaining', limit.remaining);
      headers.header('ratelimit-reset', limit.resetSeconds);
    }
    if (!limit.allowed) throw this.refuse(key, 'RATE_LIMITED', ip, { retryAfterSeconds: limit.resetSeconds });
    if (key.spendsQuota) return this.spendQuota(key, ip);
    this.metrics.keyVerified('valid');
    this.usage.record(key, this.clock.now().getTime(), ip);
  }

  /**
   * A verify call's spend: each named limit by its cost, in the order named, stopping at the
   * first that refuses; then the quota by `cost`. A name is the key's own limit of that name
   * and its identity's (both apply; the state shown is the tighter); a name neither has limits
   * nothing and is left out of the answer. Synchronous when the limits are counted in memory and
   * there is no quota, as for the request path.
   */
  private spendNamed(key: CachedKey, spending: SpendRequest): MaybePromise<Verification> {
    const ratelimits: LimitState[] = [];
    const named = spending.ratelimits;
    return then(
      someInOrder(named.length, (index) => this.spendLimit(key, named[index], ratelimits)),
      (refused): MaybePromise<Verification> => {
        if (!refused) return this.spendCost(key, spending.cost, ratelimits);
        this.countDenial(key, 'RATE_LIMITED');
        return { key, code: 'RATE_LIMITED', ratelimits, remaining: null };
      },
    );
  }

  /** Spends one named limit on each of its counters, stopping at one that refuses; adds its state; true when refused. */
  private spendLimit(
    key: CachedKey,
    { name, cost }: { name: string; cost: number },
    states: LimitState[],
  ): MaybePromise<boolean> {
    const buckets = key.bucketsByName.get(name);
    if (!buckets) return false;
    let state: RateLimitResult | undefined;
    const spendOn = (index: number) =>
      then(
        this.limits.consume(buckets[index].counter, buckets[index].limit, buckets[index].windowSeconds, cost),
        (counted) => {
          state = state ? tighter(state, counted) : counted;
          return !counted.allowed;
        },
      );
    return then(someInOrder(buckets.length, spendOn), () => {
      states.push({ name, limit: state!.limit, remaining: state!.remaining, reset: state!.resetSeconds });
      return !state!.allowed;
    });
  }

  /** The quota part of a verify call, once its limits allowed it. */
  private spendCost(key: CachedKey, cost: number, ratelimits: LimitState[]): MaybePromise<Verification> {
    if (!key.spendsQuota) {
      this.metrics.keyVerified('valid');
      this.usage.record(key, this.clock.now().getTime());
      return { key, ratelimits, remaining: null };
    }
    return this.lookups.spendQuota(quotaTarget(key), this.clock.now(), cost).then(async (spent) => {
      if (!spent.spent) {
        const { remaining } = await this.lookups.quotaState(quotaTarget(key), spent.refusedBy);
        this.countDenial(key, 'QUOTA_EXCEEDED');
        return { key, code: 'QUOTA_EXCEEDED' as const, ratelimits, remaining };
      }
      this.metrics.keyVerified('valid');
      this.usage.record(key, this.clock.now().getTime());
      return { key, ratelimits, remaining: spent.remaining };
    });
  }

  /**
   * Counts a refusal once — metrics always; for a known key also its hourly usage and, when the
   * request came with an address, the denied-use audit — and returns the error to answer with.
   */
  refuse(key: CachedKey | null | undefined, code: DenialCode, ip?: string, details?: unknown): AppException {
    this.countDenial(key, code, ip);
    return denial(code, details);
  }

  countDenial(key: CachedKey | null | undefined, code: DenialCode, ip?: string): void {
    this.metrics.keyVerified(code);
    if (code === 'RATE_LIMITED' || code === 'QUOTA_EXCEEDED')
      this.metrics.rateLimitRejected(code === 'RATE_LIMITED' ? 'key' : 'quota');
    if (key) {
      this.usage.recordDenied(key, code, this.clock.now().getTime());
      if (ip !== undefined) this.denials.note(key.tenantId, key.id, ip, code);
    }
  }

  private async spendQuota(key: CachedKey, ip?: string): Promise<void> {
    const spent = await this.lookups.spendQuota(quotaTarget(key), this.clock.now());
    if (!spent.spent) throw await this.quotaRefusal(key, spent.refusedBy, ip);
    this.metrics.keyVerified('valid');
    this.usage.record(key, this.clock.now().getTime(), ip);
  }

  /**
   * A quota with a refill to come is a wait: 429 with Retry-After until the refill. One with no
   * refill is used up for good: the same code, no Retry-After, and a message that says so.
   */
  private async quotaRefusal(key: CachedKey, refusedBy: 'key' | 'identity', ip?: string): Promise<AppException> {
    const { refillsAt } = await this.lookups.quotaState(quotaTarget(key), refusedBy);
    this.countDenial(key, 'QUOTA_EXCEEDED', ip);
    if (!refillsAt) {
      return new AppException(HttpStatus.TOO_MANY_REQUESTS, 'QUOTA_EXCEEDED', QUOTA_USED_UP_MESSAGE, {
        refillsAt: null,
      });
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((refillsAt.getTime() - this.clock.now().getTime()) / 1000));
    return new AppException(
      HttpStatus.TOO_MANY_REQUESTS,
      'QUOTA_EXCEEDED',
      `This API key has used up its quota until it refills at ${refillsAt.toISOString()}`,
      { refillsAt: refillsAt.toISOString(), retryAfterSeconds },
    );
  }

  private ipAllowed(key: CachedKey, ip: string): boolean {
    let list = this.allowlists.get(key.id, READ);
    if (!list) {
      list = blockListOf(key.ipAllowlist!);
      this.allowlists.set(key.id, list);
    }
    const mapped = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    return list.check(mapped, isIPv4(mapped) ? 'ipv4' : 'ipv6');
  }

  /** The key's row by its stored HMAC, cached unless it changed meanwhile. */
  private async load(rawKey: string): Promise<CachedKey | null> {
    const epoch = this.cache.epoch;
    const row = await this.lookups.findByHash(this.format.hash(rawKey));
    const key = row ? cachedKeyOf(row) : null;
    this.allowlists.delete(key?.id ?? '');
    this.cache.set(rawKey, key, this.clock.now().getTime(), epoch);
    return key;
  }
}

/** The quotas a use of this key spends from. */
const quotaTarget = (key: CachedKey): QuotaTarget => ({
  keyId: key.id,
  tenantId: key.tenantId,
  keyQuota: key.hasQuota,
  identityId: key.identity?.hasQuota ? key.identity.id : null,
});

export function cachedKeyOf(row: KeyLookupRow): CachedKey {
  const time = (value: Date | null) => (value ? new Date(value).getTime() : null);
  return withPrincipal({
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    name: row.name,
    metadata: row.metadata ?? {},
    permissions: row.permissions ?? [],
    roles: row.roles ?? [],
    // A user's key can never do more than the user's current role allows.
    scopes: row.owner_role
      ? row.scopes.filter((scope) => (ROLE_SCOPES[row.owner_role!] as string[]).includes(scope))
      : row.scopes,
    expiresAt: time(row.expires_at),
    revokedAt: time(row.revoked_at),
    disabledAt: time(row.disabled_at),
    graceUntil: time(row.grace_until),
    ipAllowlist: row.ip_allowlist,
    tenantActive: row.tenant_status === 'active',
    ownerActive: row.user_id === null || row.owner_status === 'active',
    rateLimit: { limit: row.rate_limit.limit, windowSeconds: row.rate_limit.windowSeconds },
    ratelimits: row.ratelimits ?? [],
    hasQuota: row.has_quota,
    identity: row.identity_id
      ? {
          id: row.identity_id,
          externalId: row.external_id!,
          meta: row.identity_meta ?? {},
          ratelimits: row.identity_ratelimits ?? [],
          hasQuota: row.identity_has_quota,
        }
      : null,
  });
}
