import { LRUCache } from 'lru-cache';

interface Entry<V> {
  value: V;
  /** Epoch milliseconds after which the entry is not served; Infinity for "until invalidated". */
  until: number;
  /** When a hit last moved the entry to the young end. */
  touchedAt: number;
}

/** A hit moves its entry to the young end at most this often: reordering on every hit costs. */
const TOUCH_INTERVAL_MS = 1_000;

/** Pass to every lru-cache `get` on a hot path: it would otherwise allocate an empty options object per call. */
export const READ = Object.freeze({});

/**
 * A bounded LRU (lru-cache) of values that are only a shortcut to the truth, with an epoch
 * guard: every invalidation bumps the epoch, and `set` refuses a value whose lookup began
 * before one (it may have read the row as it was before the change). Expiry is checked against
 * the caller's clock, so tests and the injectable Clock decide what "now" is.
 * A hit is synchronous and allocates nothing.
 */
export class BoundedCache<V> {
  private readonly lru: LRUCache<string, Entry<V>>;
  private invalidations = 0;

  /** `onRemove` hears every entry that leaves (eviction, expiry, invalidation, replacement). */
  constructor(max: number, onRemove?: (key: string, value: V) => void) {
    this.lru = new LRUCache<string, Entry<V>>({
      max,
      dispose: onRemove && ((entry, key) => onRemove(key, entry.value)),
    });
  }

  /** `now` may be left out where entries are stored until changed (`until` = Infinity). */
  get(key: string, now = 0): V | undefined {
    const entry = this.lru.peek(key, READ);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.lru.delete(key);
      return undefined;
    }
    // Without a clock every hit counts as recent use.
    if (now === 0 || now - entry.touchedAt >= TOUCH_INTERVAL_MS) {
      entry.touchedAt = now;
      this.lru.get(key, READ);
    }
    return entry.value;
  }

  /** Read before the lookup whose result is passed to `set`. */
  get epoch(): number {
    return this.invalidations;
  }

  /** Stores unless an invalidation happened since `epoch` was read; true when stored. */
  set(key: string, value: V, until: number, epoch: number): boolean {
    if (epoch !== this.invalidations) return false;
    this.lru.set(key, { value, until, touchedAt: 0 });
    return true;
  }

  /** Drops one entry because it changed; undefined when none is cached (lookups under way are still refused). */
  invalidate(key: string | undefined): void {
    this.invalidations++;
    if (key !== undefined) this.lru.delete(key);
  }

  /** Drops every entry that matches, because they changed. */
  invalidateWhere(matches: (value: V, key: string) => boolean): void {
    this.invalidations++;
    const doomed: string[] = [];
    for (const [key, entry] of this.lru.entries()) if (matches(entry.value, key)) doomed.push(key);
    for (const key of doomed) this.lru.delete(key);
  }

  clear(): void {
    this.invalidations++;
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}
