import { BeforeApplicationShutdown, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';

const FLUSH_INTERVAL_MS = 5_000;

/**
 * Counts key uses in memory and writes them in one statement every few seconds (and at
 * shutdown), so verification never waits for a write. Also ends rotated keys whose grace
 * period is over.
 */
@Injectable()
export class KeyUsageService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(KeyUsageService.name);
  private pending = new Map<string, { count: number; lastUsedAt: number }>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  record(keyId: string, now: number): void {
    const entry = this.pending.get(keyId);
    if (entry) {
      entry.count++;
      entry.lastUsedAt = now;
    } else {
      this.pending.set(keyId, { count: 1, lastUsedAt: now });
    }
  }

  /** Writes what has accumulated; on failure keeps it for the next attempt. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    try {
      if (batch.size) {
        const ids = [...batch.keys()];
        await this.dataSource.query(
          `UPDATE api_keys k SET usage_count = k.usage_count + u.count, last_used_at = GREATEST(k.last_used_at, u.last_used_at)
             FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::int[]) AS count, unnest($3::timestamptz[]) AS last_used_at) u
            WHERE k.id = u.id`,
          [ids, ids.map((id) => batch.get(id)!.count), ids.map((id) => new Date(batch.get(id)!.lastUsedAt))],
        );
      }
      await this.dataSource.query('UPDATE api_keys SET revoked_at = grace_until WHERE grace_until <= $1 AND revoked_at IS NULL', [this.clock.now()]);
    } catch (error) {
      for (const [id, entry] of batch) {
        const newer = this.pending.get(id);
        this.pending.set(id, newer ? { count: newer.count + entry.count, lastUsedAt: newer.lastUsedAt } : entry);
      }
      this.logger.warn({ msg: 'could not write key usage; will retry', err: error });
    }
  }
}
