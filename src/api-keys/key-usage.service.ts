import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';
import { PeriodicWriter } from '../common/batch/periodic-writer';

const FLUSH_INTERVAL_MS = 5_000;
const HOUR_MS = 3_600_000;

interface Bucket {
  success: number;
  denied: Record<string, number>;
}

/** What has accumulated for one key since the last write. */
interface Pending {
  tenantId: string;
  /** Successful uses, for usage_count / last_used_at. */
  count: number;
  lastUsedAt: number;
  /** Address of that last use, when the request came with one. */
  lastUsedIp: string | null;
  /** Hour start (ms) → counts; almost always a single hour. */
  buckets: Map<number, Bucket>;
}

export interface UsedKey {
  id: string;
  tenantId: string;
}

/**
 * Counts key uses (and denials of known keys, by code) in memory and writes them every few
 * seconds (and at shutdown): last use and total count onto the key, hourly buckets into
 * key_usage. Verification never waits for a write. Also ends rotated keys whose grace
 * period is over.
 */
@Injectable()
export class KeyUsageService extends PeriodicWriter {
  private readonly logger = new Logger(KeyUsageService.name);
  private pending = new Map<string, Pending>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {
    super(FLUSH_INTERVAL_MS);
  }

  record(key: UsedKey, now: number, ip?: string): void {
    const entry = this.entry(key);
    entry.count++;
    if (now >= entry.lastUsedAt) {
      entry.lastUsedAt = now;
      entry.lastUsedIp = ip ?? entry.lastUsedIp;
    }
    this.bucket(entry, now).success++;
  }

  recordDenied(key: UsedKey, code: string, now: number): void {
    const denied = this.bucket(this.entry(key), now).denied;
    denied[code] = (denied[code] ?? 0) + 1;
  }

  private entry(key: UsedKey): Pending {
    let entry = this.pending.get(key.id);
    if (!entry) {
      entry = { tenantId: key.tenantId, count: 0, lastUsedAt: 0, lastUsedIp: null, buckets: new Map() };
      this.pending.set(key.id, entry);
    }
    return entry;
  }

  private bucket(entry: Pending, now: number): Bucket {
    const hour = now - (now % HOUR_MS);
    let bucket = entry.buckets.get(hour);
    if (!bucket) {
      bucket = { success: 0, denied: {} };
      entry.buckets.set(hour, bucket);
    }
    return bucket;
  }

  /** Writes what has accumulated; on failure keeps it for the next attempt. */
  protected async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    try {
      if (batch.size) {
        await this.dataSource.transaction(async (manager) => {
          await this.writeTotals(manager, batch);
          await this.writeBuckets(manager, batch);
        });
      }
      await this.dataSource.query(
        'UPDATE api_keys SET revoked_at = grace_until WHERE grace_until <= $1 AND revoked_at IS NULL',
        [this.clock.now()],
      );
    } catch (error) {
      for (const [id, entry] of batch) this.mergeBack(id, entry);
      this.logger.warn({ msg: 'could not write key usage; will retry', err: error });
    }
  }

  private async writeTotals(manager: { query: DataSource['query'] }, batch: Map<string, Pending>): Promise<void> {
    const used = [...batch].filter(([, entry]) => entry.count > 0);
    if (!used.length) return;
    await manager.query(
      `UPDATE api_keys k SET usage_count = k.usage_count + u.count, last_used_at = GREATEST(k.last_used_at, u.last_used_at),
              last_used_ip = CASE WHEN k.last_used_at IS NULL OR u.last_used_at >= k.last_used_at
                                  THEN COALESCE(u.ip, k.last_used_ip) ELSE k.last_used_ip END
         FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::uuid[]) AS tenant_id, unnest($3::int[]) AS count,
                      unnest($4::timestamptz[]) AS last_used_at, unnest($5::text[]) AS ip) u
        WHERE k.id = u.id AND k.tenant_id = u.tenant_id`,
      [
        used.map(([id]) => id),
        used.map(([, entry]) => entry.tenantId),
        used.map(([, entry]) => entry.count),
        used.map(([, entry]) => new Date(entry.lastUsedAt)),
        used.map(([, entry]) => entry.lastUsedIp),
      ],
    );
  }

  /** One upsert for every bucket; denial counts are added code by code. */
  private async writeBuckets(manager: { query: DataSource['query'] }, batch: Map<string, Pending>): Promise<void> {
    const rows = [...batch].flatMap(([id, entry]) =>
      [...entry.buckets].map(([hour, bucket]) => ({ id, tenantId: entry.tenantId, hour, ...bucket })),
    );
    await manager.query(
      `INSERT INTO key_usage AS u (api_key_id, tenant_id, hour, success, denied)
       SELECT b.api_key_id, b.tenant_id, b.hour, b.success, b.denied
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::bigint[], $5::jsonb[]) AS b(api_key_id, tenant_id, hour, success, denied)
         -- a key deleted meanwhile has nothing left to count against
        WHERE EXISTS (SELECT 1 FROM api_keys k WHERE k.id = b.api_key_id AND k.tenant_id = b.tenant_id)
       ON CONFLICT (api_key_id, hour) DO UPDATE SET
         success = u.success + EXCLUDED.success,
         denied = (SELECT COALESCE(jsonb_object_agg(c.code, COALESCE((u.denied->>c.code)::bigint, 0) + COALESCE((EXCLUDED.denied->>c.code)::bigint, 0)), '{}'::jsonb)
                     FROM jsonb_object_keys(u.denied || EXCLUDED.denied) AS c(code))`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.tenantId),
        rows.map((r) => new Date(r.hour)),
        rows.map((r) => r.success),
        rows.map((r) => JSON.stringify(r.denied)),
      ],
    );
  }

  private mergeBack(id: string, failed: Pending): void {
    const newer = this.pending.get(id);
    if (!newer) {
      this.pending.set(id, failed);
      return;
    }
    newer.count += failed.count;
    if (failed.lastUsedAt > newer.lastUsedAt) {
      newer.lastUsedAt = failed.lastUsedAt;
      newer.lastUsedIp = failed.lastUsedIp;
    }
    for (const [hour, bucket] of failed.buckets) {
      const into = newer.buckets.get(hour);
      if (!into) {
        newer.buckets.set(hour, bucket);
        continue;
      }
      into.success += bucket.success;
      for (const [code, n] of Object.entries(bucket.denied)) into.denied[code] = (into.denied[code] ?? 0) + n;
    }
  }
}
