import { HttpStatus, Injectable } from '@nestjs/common';
import { BlockList, isIPv4 } from 'node:net';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { Principal, Role } from '../common/auth/principal';
import { ROLE_SCOPES } from '../common/auth/scopes';
import { AppException } from '../common/http/problem';
import { CachedKey, withPrincipal } from './key-cache';
import { KeyEventsService } from './key-events.service';
import { KeyFormat } from './key-format';
import { KeyUsageService } from './key-usage.service';

export type DenialCode = 'KEY_MISSING' | 'KEY_MALFORMED' | 'KEY_NOT_FOUND' | 'KEY_REVOKED' | 'KEY_EXPIRED' | 'KEY_DISABLED' | 'TENANT_SUSPENDED' | 'INSUFFICIENT_SCOPE' | 'KEY_IP_NOT_ALLOWED';

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
};

type VerifyOptions = { ip?: string; requiredScopes?: string[]; countUse?: boolean };

const MALFORMED: Verification = Object.freeze({ valid: false, code: 'KEY_MALFORMED' });
const NOT_FOUND: Verification = Object.freeze({ valid: false, code: 'KEY_NOT_FOUND' });

function principalOf(result: Verification): Principal {
  if (!result.valid) throw denial(result.code);
  return result.key.principal;
}

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
  private readonly allowlists = new Map<string, BlockList>();

  constructor(
    config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly events: KeyEventsService,
    private readonly usage: KeyUsageService,
  ) {
    this.format = new KeyFormat(config.keyPrefix, config.keyPepper);
  }

  /**
   * Synchronous when the key is cached (the common case), so the hot path costs no promise;
   * a promise only when the database must be asked.
   */
  verify(rawKey: string, options: VerifyOptions = {}): Verification | Promise<Verification> {
    if (!this.format.hasShape(rawKey)) return MALFORMED;
    const cacheKey = this.format.cacheKey(rawKey);
    const now = this.clock.now().getTime();
    const cached = this.events.cache.get(cacheKey, now);
    if (cached !== undefined) return this.decide(cached, now, options);
    // Only keys that pass the checksum reach the database (and the negative cache).
    if (!this.format.checksumMatches(rawKey)) return MALFORMED;
    return this.load(cacheKey, this.format.hash(rawKey), now).then((key) => this.decide(key, now, options));
  }

  recordUse(keyId: string): void {
    this.usage.record(keyId, this.clock.now().getTime());
  }

  /** The principal an API key authenticates as; throws the denial otherwise. */
  authenticate(rawKey: string, ip: string): Principal | Promise<Principal> {
    const result = this.verify(rawKey, { ip });
    return result instanceof Promise ? result.then(principalOf) : principalOf(result);
  }

  private decide(key: CachedKey | null, now: number, options: VerifyOptions): Verification {
    if (!key) return NOT_FOUND;
    const code = this.check(key, now, options);
    if (code) return { valid: false, code, key };
    if (options.countUse !== false) this.usage.record(key.id, now);
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
    let list = this.allowlists.get(key.id);
    if (!list) {
      list = new BlockList();
      for (const entry of key.ipAllowlist!) {
        const [address, prefix] = entry.split('/');
        const type = isIPv4(address) ? 'ipv4' : 'ipv6';
        if (prefix === undefined) list.addAddress(address, type);
        else list.addSubnet(address, Number(prefix), type);
      }
      if (this.allowlists.size > 10_000) this.allowlists.clear();
      this.allowlists.set(key.id, list);
    }
    const mapped = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    return list.check(mapped, isIPv4(mapped) ? 'ipv4' : 'ipv6');
  }

  /** The key's row by its stored hash, cached under `cacheKey` unless it changed meanwhile. */
  private async load(cacheKey: string, hash: string, now: number): Promise<CachedKey | null> {
    const epoch = this.events.cache.epoch;
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
      tenant_status: string;
      owner_status: string | null;
      owner_role: Role | null;
    }[] = await this.dataSource.query(
      `SELECT k.id, k.tenant_id, k.user_id, k.scopes, k.expires_at, k.revoked_at, k.disabled_at, k.grace_until, k.ip_allowlist,
              t.status AS tenant_status, u.status AS owner_status, u.role AS owner_role
         FROM api_keys k
         JOIN tenants t ON t.id = k.tenant_id
         LEFT JOIN users u ON u.id = k.user_id AND u.tenant_id = k.tenant_id
        WHERE k.key_hash = $1`,
      [hash],
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
        })
      : null;
    this.allowlists.delete(key?.id ?? '');
    this.events.cache.set(cacheKey, key, now, epoch);
    return key;
  }
}
