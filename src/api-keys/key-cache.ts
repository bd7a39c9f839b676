/** What verification needs to know about a key, cached by key hash. */
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
}

interface Entry {
  key: CachedKey | null;
  until: number;
}

/**
 * A bounded LRU of verification lookups: found keys for a minute, unknown hashes for a few
 * seconds (so a flood of bad keys costs one query each per few seconds, not per request).
 * Changes to a key drop its entry at once; other instances hear about it through NOTIFY.
 */
export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly hashById = new Map<string, string>();

  constructor(
    private readonly maxEntries = 50_000,
    private readonly positiveTtlMs = 60_000,
    private readonly negativeTtlMs = 5_000,
  ) {}

  /** undefined: not cached; null: cached as unknown. */
  get(hash: string, now: number): CachedKey | null | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.delete(hash);
      return undefined;
    }
    // Re-insert to mark as recently used.
    this.entries.delete(hash);
    this.entries.set(hash, entry);
    return entry.key;
  }

  set(hash: string, key: CachedKey | null, now: number): void {
    if (this.positiveTtlMs === 0) return;
    this.delete(hash);
    this.entries.set(hash, { key, until: now + (key ? this.positiveTtlMs : this.negativeTtlMs) });
    if (key) this.hashById.set(key.id, hash);
    while (this.entries.size > this.maxEntries) this.delete(this.entries.keys().next().value!);
  }

  forgetKey(id: string): void {
    const hash = this.hashById.get(id);
    if (hash) this.delete(hash);
  }

  forgetTenant(tenantId: string): void {
    for (const [hash, entry] of this.entries) if (entry.key?.tenantId === tenantId) this.delete(hash);
  }

  forgetUser(userId: string): void {
    for (const [hash, entry] of this.entries) if (entry.key?.userId === userId) this.delete(hash);
  }

  clear(): void {
    this.entries.clear();
    this.hashById.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private delete(hash: string): void {
    const entry = this.entries.get(hash);
    if (entry?.key) this.hashById.delete(entry.key.id);
    this.entries.delete(hash);
  }
}
