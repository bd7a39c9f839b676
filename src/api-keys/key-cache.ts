import { Principal } from '../common/auth/principal';
import type { RateLimitSetting } from './api-key.entity';

/** What verification needs to know about a key, and the principal it authenticates as. */
export interface CachedKey {
  id: string;
  tenantId: string;
  userId: string | null;
  scopes: string[];
  expiresAt: number | null;
  revokedAt: number | null;
  disabledAt: number | null;
  graceUntil: number | null;
  ipAllowlist: string[] | null;
  tenantActive: boolean;
  ownerActive: boolean;
  /** The key's own limit, or its tenant's default. */
  rateLimit: RateLimitSetting;
  /** Only keys with a quota cost a database write per use. */
  hasQuota: boolean;
  /** Built once per cache entry rather than per request; frozen because it is shared. */
  principal: Principal;
}

export function withPrincipal(key: Omit<CachedKey, 'principal'>): CachedKey {
  const principal: Principal = Object.freeze({ kind: 'apiKey', tenantId: key.tenantId, userId: key.userId ?? undefined, apiKeyId: key.id, scopes: Object.freeze([...key.scopes]) as string[] });
  return { ...key, principal };
}

interface Entry {
  key: CachedKey | null;
  until: number;
  touchedAt: number;
}

/** A hit moves its entry to the young end at most this often: reordering on every hit costs. */
const TOUCH_INTERVAL_MS = 1_000;

/**
 * A bounded LRU of verification lookups, keyed by the key as presented: found keys for a
 * minute, unknown keys for a few seconds (so a flood of bad keys costs one query each per
 * few seconds, not per request). Changes to a key drop its entry at once; other instances
 * hear about it through NOTIFY.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly keyById = new Map<string, string>();
  /**
   * Bumped by every invalidation. A lookup that started before one may have read the row as
   * it was before the change, so `set` refuses its result (see `epoch`).
   */
  private invalidations = 0;
  /** While set, no entry lives longer (changes from other instances may not reach us). */
  private ttlLimitMs?: number;

  constructor(
    private readonly maxEntries = 50_000,
    private readonly positiveTtlMs = 60_000,
    private readonly negativeTtlMs = 5_000,
  ) {}

  /** undefined: not cached; null: cached as unknown. */
  get(presented: string, now: number): CachedKey | null | undefined {
    const entry = this.entries.get(presented);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.delete(presented);
      return undefined;
    }
    if (now - entry.touchedAt >= TOUCH_INTERVAL_MS) {
      // Re-insert to mark as recently used.
      entry.touchedAt = now;
      this.entries.delete(presented);
      this.entries.set(presented, entry);
    }
    return entry.key;
  }

  /** Read before a database lookup and pass to `set`, so a stale result is never cached. */
  get epoch(): number {
    return this.invalidations;
  }

  set(presented: string, key: CachedKey | null, now: number, epoch: number): void {
    if (this.positiveTtlMs === 0 || epoch !== this.invalidations) return;
    this.delete(presented);
    const ttl = Math.min(key ? this.positiveTtlMs : this.negativeTtlMs, this.ttlLimitMs ?? Infinity);
    this.entries.set(presented, { key, until: now + ttl, touchedAt: now });
    if (key) this.keyById.set(key.id, presented);
    while (this.entries.size > this.maxEntries) this.delete(this.entries.keys().next().value!);
  }

  limitTtl(ms: number | undefined): void {
    this.ttlLimitMs = ms;
  }

  forgetKey(id: string): void {
    this.invalidations++;
    const presented = this.keyById.get(id);
    if (presented) this.delete(presented);
  }

  forgetTenant(tenantId: string): void {
    this.invalidations++;
    for (const [presented, entry] of this.entries) if (entry.key?.tenantId === tenantId) this.delete(presented);
  }

  forgetUser(userId: string): void {
    this.invalidations++;
    for (const [presented, entry] of this.entries) if (entry.key?.userId === userId) this.delete(presented);
  }

  clear(): void {
    this.invalidations++;
    this.entries.clear();
    this.keyById.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private delete(presented: string): void {
    const entry = this.entries.get(presented);
    if (entry?.key) this.keyById.delete(entry.key.id);
    this.entries.delete(presented);
  }
}
