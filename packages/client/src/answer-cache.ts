/**
 * A small map of recent answers that forgets them after `ttlMs` and holds at most `maxEntries`
 * (the least recently used go first). Keys are digests, never the API keys themselves.
 */
export class AnswerCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get(digest: string): V | undefined {
    const entry = this.entries.get(digest);
    if (!entry) return undefined;
    this.entries.delete(digest);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(digest, entry);
    return entry.value;
  }

  set(digest: string, value: V): void {
    if (!this.enabled) return;
    this.entries.delete(digest);
    this.entries.set(digest, { value, expiresAt: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  clear(): void {
    this.entries.clear();
  }
}
