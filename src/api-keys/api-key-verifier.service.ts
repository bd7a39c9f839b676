import { HttpStatus, Injectable } from '@nestjs/common';
import { BlockList, isIPv4 } from 'node:net';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { Principal, Role } from '../common/auth/principal';
import { ROLE_SCOPES } from '../common/auth/scopes';
import { AppException } from '../common/http/problem';
import { blockListOf } from './ip-allowlist';
import { LRUCache } from 'lru-cache';
import { READ } from '../common/cache/bounded-cache';
import { CachedKey, KeyCache, withPrincipal } from './key-cache';
import { KeyFormat } from './key-format';
import { KeyUsageService } from './key-usage.service';
import { KeyDenialsService } from '../audit/key-denials.service';
import { RateLimitResult, RateLimitService } from '../rate-limit/rate-limit.service';
import { RateLimitSetting } from './api-key.entity';
import { Metrics } from '../metrics/metrics.service';

export type DenialCode =
  | 'KEY_MISSING'
  | 'KEY_MALFORMED'
  | 'KEY_NOT_FOUND'
  | 'KEY_REVOKED'
  | 'KEY_EXPIRED'
  | 'KEY_DISABLED'
  | 'TENANT_SUSPENDED'
  | 'INSUFFICIENT_SCOPE'
  | 'KEY_IP_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED';

export type Verification = { valid: true; key: CachedKey } | { valid: false; code: DenialCode; key?: CachedKey };

const DENIAL_STATUS: Record<DenialCode, HttpStatus> = {
  KEY_MISSING: HttpStatus.UNAUTHORIZED,
  KEY_MALFORMED: HttpStatus.UNAUTHORIZED,
  KEY_NOT_FOUND: HttpStatus.UNAUTHORIZED,
  KEY_REVOKED: HttpStatus.UNAUTHORIZED,
  KEY_EXPIRED: HttpStatus.UNAUTHORIZED,
  KEY_DISABLED: HttpStatus.FORBIDDEN,
  TENANT_SUSPENDED: HttpStatus.FORBIDDEN,
  INSUFFICIENT_SCOPE: HttpStatus.FORBIDDEN,
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
  KEY_IP_NOT_ALLOWED: 'This API key may not be used from this address',
  RATE_LIMITED: 'Too many requests with this API key; retry later',
  QUOTA_EXCEEDED: 'This API key has used up its quota',
};

type VerifyOptions = { ip?: string; requiredScopes?: string[]; countUse?: boolean };

const MALFORMED: Verification = Object.freeze({ valid: false, code: 'KEY_MALFORMED' });
const NOT_FOUND: Verification = Object.freeze({ valid: false, code: 'KEY_NOT_FOUND' });

export function denial(code: DenialCode, details?: unknown): AppException {
  return new AppException(DENIAL_STATUS[code], code, DENIAL_MESSAGE[code], details);
}

/**
 * The hot path: format and checksum, HMAC, cache, one indexed lookup on a miss, then
 * in-memory checks. No write happens here; usage is counted in memory.
 */
@Injectable()
export class ApiKeyVerifier {
  readonly format: KeyFormat;
  private readonly allowlists = new LRUCache<string, BlockList>({ max: 10_000 });

  constructor(
    config: AppConfig,
    private readonly dataSource: DataSource,
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
   * Synchronous when the key is cached (the common case), so the hot path costs no promise;
   * a promise only when the database must be asked.
   */
  verify(rawKey: string, options: VerifyOptions = {}): Verification | Promise<Verification> {
    if (!this.format.hasShape(rawKey)) return this.malformed();
    const now = this.clock.now().getTime();
    // Cached under the key itself: in the running server a one-shot SHA-256 of it cost more than
    // the rest of a cache hit, and a heap that holds the cache also holds the pepper and the JWT
    // secret, so a digest here would add little protection. The cache is never written out.
    const cached = this.cache.get(rawKey, now);
    if (cached !== undefined) {
      this.metrics.keyCacheLookup(true);
      return this.decide(cached, now, options);
    }
    // Only keys that pass the checksum reach the database (and the negative cache).
    if (!this.format.checksumMatches(rawKey)) return this.malformed();
    this.metrics.keyCacheLookup(false);
    return this.load(rawKey, now).then((key) => this.decide(key, now, options));
  }

  recordUse(key: CachedKey): void {
    this.usage.record(key, this.clock.now().getTime());
  }

  recordDenied(key: CachedKey, code: DenialCode): void {
    this.usage.recordDenied(key, code, this.clock.now().getTime());
  }

  /**
   * The principal an API key authenticates as, after its rate limit and quota; throws the
   * denial otherwise. `onLimit` hears the rate-limit state (for the response headers).
   */
  authenticate(rawKey: string, ip: string, onLimit?: (limit: RateLimitResult) => void): Principal | Promise<Principal> {
    const result = this.verify(rawKey, { ip, countUse: false });
    return result instanceof Promise ? result.then((r) => this.admit(r, ip, onLimit)) : this.admit(result, ip, onLimit);
  }

  /**
   * Spends one use of a verified key: its rate limit, then (only for keys that have one) its
   * quota. Counts the use, or the denial, in the hourly usage. Synchronous when the limit is
   * counted in memory and the key has no quota, as on every cached request without Redis.
   */
  spend(key: CachedKey, onLimit?: (limit: RateLimitResult) => void): DenialCode | undefined | Promise<DenialCode | undefined> {
    const limit = this.limits.consume(`key:${key.id}`, key.rateLimit.limit, key.rateLimit.windowSeconds);
    return limit instanceof Promise ? limit.then((counted) => this.spendCounted(key, counted, onLimit)) : this.spendCounted(key, limit, onLimit);
  }

  private spendCounted(key: CachedKey, limit: RateLimitResult, onLimit?: (limit: RateLimitResult) => void): DenialCode | undefined | Promise<DenialCode | undefined> {
    onLimit?.(limit);
    if (!limit.allowed) return this.refuseUse(key, 'RATE_LIMITED');
    if (key.hasQuota) return this.spendQuota(key).then((spent) => (spent ? this.countUse(key) : this.refuseUse(key, 'QUOTA_EXCEEDED')));
    return this.countUse(key);
  }

  private countUse(key: CachedKey): undefined {
    this.recordUse(key);
    return undefined;
  }

  private refuseUse(key: CachedKey, code: 'RATE_LIMITED' | 'QUOTA_EXCEEDED'): DenialCode {
    this.recordDenied(key, code);
    this.metrics.rateLimitRejected(code === 'RATE_LIMITED' ? 'key' : 'quota');
    return code;
  }

  private admit(result: Verification, ip: string, onLimit?: (limit: RateLimitResult) => void): Principal | Promise<Principal> {
    if (!result.valid) {
      if (result.key) {
        this.recordDenied(result.key, result.code);
        this.denials.note(result.key.tenantId, result.key.id, ip, result.code);
      }
      throw denial(result.code);
    }
    const key = result.key;
    let retryAfter = 1;
    const settle = (code: DenialCode | undefined): Principal => {
      if (!code) return key.principal;
      this.denials.note(key.tenantId, key.id, ip, code);
      throw code === 'RATE_LIMITED' ? denial(code, { retryAfterSeconds: retryAfter }) : denial(code);
    };
    const spent = this.spend(key, (limit) => ((retryAfter = limit.resetSeconds), onLimit?.(limit)));
    return spent instanceof Promise ? spent.then(settle) : settle(spent);
  }

  /**
   * One atomic UPDATE, so the count is exact under any concurrency and across instances. A
   * refill that is due resets `remaining` to its amount in the same statement. A rotated key
   * and its successors share one quota, counted on the newest of them: otherwise every
   * rotation would hand out the remaining uses again for the grace period.
   */
  private async spendQuota(key: CachedKey): Promise<boolean> {
    const due = `(quota_refill IS NOT NULL AND quota_refilled_at + CASE quota_refill->>'interval' WHEN 'day' THEN interval '1 day' ELSE interval '1 month' END <= $3)`;
    // TypeORM answers an UPDATE with [rows, affected].
    const [rows]: [unknown[], number] = await this.dataSource.query(
      `WITH RECURSIVE successors AS (
         SELECT id, 0 AS generation FROM api_keys WHERE id = $1 AND tenant_id = $2
         UNION ALL
         SELECT k.id, s.generation + 1 FROM api_keys k JOIN successors s ON k.rotated_from_id = s.id WHERE k.tenant_id = $2
       )
       UPDATE api_keys
          SET quota_remaining = CASE WHEN ${due} THEN (quota_refill->>'amount')::int ELSE quota_remaining END - 1,
              quota_refilled_at = CASE WHEN ${due} THEN $3 ELSE quota_refilled_at END
        WHERE id = (SELECT id FROM successors ORDER BY generation DESC LIMIT 1) AND tenant_id = $2
          AND (quota_remaining IS NULL OR quota_remaining > 0 OR ${due})
        RETURNING quota_remaining`,
      [key.id, key.tenantId, this.clock.now()],
    );
    return rows.length === 1;
  }

  private malformed(): Verification {
    this.metrics.keyVerified('KEY_MALFORMED');
    return MALFORMED;
  }

  private decide(key: CachedKey | null, now: number, options: VerifyOptions): Verification {
    if (!key) {
      this.metrics.keyVerified('KEY_NOT_FOUND');
      return NOT_FOUND;
    }
    const code = this.check(key, now, options);
    this.metrics.keyVerified(code ?? 'valid');
    if (code) return { valid: false, code, key };
    if (options.countUse !== false) this.usage.record(key, now);
    return { valid: true, key };
  }

  private check(key: CachedKey, now: number, options: { ip?: string; requiredScopes?: string[] }): DenialCode | undefined {
    if (key.revokedAt !== null || (key.graceUntil !== null && key.graceUntil <= now) || !key.ownerActive) return 'KEY_REVOKED';
    if (key.expiresAt !== null && key.expiresAt <= now) return 'KEY_EXPIRED';
    if (!key.tenantActive) return 'TENANT_SUSPENDED';
    if (key.disabledAt !== null) return 'KEY_DISABLED';
    // Only requests made with the key carry an address; /v1/keys/verify checks a key on someone's behalf.
    if (options.ip !== undefined && key.ipAllowlist?.length && !this.ipAllowed(key, options.ip)) return 'KEY_IP_NOT_ALLOWED';
    if (options.requiredScopes?.some((scope) => !key.scopes.includes(scope))) return 'INSUFFICIENT_SCOPE';
    return undefined;
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
  private async load(rawKey: string, now: number): Promise<CachedKey | null> {
    const epoch = this.cache.epoch;
    const rows: {
      id: string;
      tenant_id: string;
      user_id: string | null;
      scopes: string[];
      expires_at: Date | null;
      revoked_at: Date | null;
      disabled_at: Date | null;
      grace_until: Date | null;
      ip_allowlist: string[] | null;
      rate_limit: RateLimitSetting;
      has_quota: boolean;
      tenant_status: string;
      owner_status: string | null;
      owner_role: Role | null;
    }[] = await this.dataSource.query(
      `SELECT k.id, k.tenant_id, k.user_id, k.scopes, k.expires_at, k.revoked_at, k.disabled_at, k.grace_until, k.ip_allowlist,
              COALESCE(k.rate_limit, t.default_key_rate_limit) AS rate_limit, k.quota_remaining IS NOT NULL AS has_quota,
              t.status AS tenant_status, u.status AS owner_status, u.role AS owner_role
         FROM api_keys k
         JOIN tenants t ON t.id = k.tenant_id
         LEFT JOIN users u ON u.id = k.user_id AND u.tenant_id = k.tenant_id
        WHERE k.key_hash = $1`,
      [this.format.hash(rawKey)],
    );
    const row = rows[0];
    const key: CachedKey | null = row
      ? withPrincipal({
          id: row.id,
          tenantId: row.tenant_id,
          userId: row.user_id,
          // A user's key can never do more than the user's current role allows.
          scopes: row.owner_role ? row.scopes.filter((scope) => (ROLE_SCOPES[row.owner_role!] as string[]).includes(scope)) : row.scopes,
          expiresAt: row.expires_at ? new Date(row.expires_at).getTime() : null,
          revokedAt: row.revoked_at ? new Date(row.revoked_at).getTime() : null,
          disabledAt: row.disabled_at ? new Date(row.disabled_at).getTime() : null,
          graceUntil: row.grace_until ? new Date(row.grace_until).getTime() : null,
          ipAllowlist: row.ip_allowlist,
          tenantActive: row.tenant_status === 'active',
          ownerActive: row.user_id === null || row.owner_status === 'active',
          rateLimit: { limit: row.rate_limit.limit, windowSeconds: row.rate_limit.windowSeconds },
          hasQuota: row.has_quota,
        })
      : null;
    this.allowlists.delete(key?.id ?? '');
    this.cache.set(rawKey, key, now, epoch);
    return key;
  }
}
