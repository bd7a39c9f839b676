import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { visibleOwner } from '../api-keys/key-policy';
import { Principal } from '../common/auth/principal';
import { Clock } from '../common/clock';
import { AppException } from '../common/http/problem';
import { UsageDto, UsagePoint, UsageQuery } from './dto/usage.dto';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MAX_RANGE_DAYS = 366;

const invalid = (message: string) => new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', message);

/**
 * Reads the hourly usage buckets as a time series. Counts reach the table in batches, so the
 * last few seconds of use may not be in it yet.
 */
@Injectable()
export class UsageService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly keys: ApiKeysService,
  ) {}

  /** One key's usage; the key must be visible to the caller (404 otherwise, as for GET /v1/api-keys/:id). */
  async forKey(actor: Principal, keyId: string, query: UsageQuery): Promise<UsageDto> {
    await this.keys.get(actor, keyId);
    return this.series(actor.tenantId!, query, { keyId });
  }

  /**
   * The tenant's usage, over the keys the caller may list: a user's key and a member or viewer
   * see only their own keys' usage (the dashboard overview shows it to every role).
   */
  forTenant(actor: Principal, query: UsageQuery): Promise<UsageDto> {
    const owner = visibleOwner(actor);
    return this.series(actor.tenantId!, query, owner ? { ownerId: owner } : {});
  }

  private async series(
    tenantId: string,
    query: UsageQuery,
    filter: { keyId?: string; ownerId?: string },
  ): Promise<UsageDto> {
    const granularity = query.granularity ?? 'hour';
    const step = granularity === 'hour' ? HOUR_MS : DAY_MS;
    const to = query.to ? new Date(query.to) : this.clock.now();
    const from = query.from
      ? new Date(query.from)
      : new Date(to.getTime() - (granularity === 'hour' ? DAY_MS : 30 * DAY_MS));
    if (from >= to) throw invalid('from must be before to');
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS)
      throw invalid(`The range may span at most ${MAX_RANGE_DAYS} days`);

    const params: unknown[] = [tenantId, from, to, granularity];
    let where = 'u.tenant_id = $1 AND u.hour >= $2 AND u.hour < $3';
    if (filter.keyId) where += ` AND u.api_key_id = $${params.push(filter.keyId)}`;
    if (filter.ownerId)
      where += ` AND EXISTS (SELECT 1 FROM api_keys k WHERE k.id = u.api_key_id AND k.tenant_id = u.tenant_id AND k.user_id = $${params.push(filter.ownerId)})`;
    const bucket = `date_trunc($4, u.hour, 'UTC')`;
    const [successes, denials]: [{ t: Date; n: string }[], { t: Date; code: string; n: string }[]] = await Promise.all([
      this.dataSource.query(
        `SELECT ${bucket} AS t, sum(u.success)::bigint AS n FROM key_usage u WHERE ${where} GROUP BY 1`,
        params,
      ),
      this.dataSource.query(
        `SELECT ${bucket} AS t, d.key AS code, sum(d.value::bigint)::bigint AS n FROM key_usage u, jsonb_each_text(u.denied) d WHERE ${where} GROUP BY 1, 2`,
        params,
      ),
    ]);

    // Every bucket of the range, empty ones included, so a chart needs no gap filling.
    const points = new Map<number, UsagePoint>();
    const first = from.getTime() - (from.getTime() % step);
    for (let t = first; t < to.getTime(); t += step)
      points.set(t, { t: new Date(t).toISOString(), success: 0, denied: {} });
    const totals = { success: 0, denied: {} as Record<string, number> };
    for (const row of successes) {
      const n = Number(row.n);
      points.get(new Date(row.t).getTime())!.success += n;
      totals.success += n;
    }
    for (const row of denials) {
      const n = Number(row.n);
      const denied = points.get(new Date(row.t).getTime())!.denied;
      denied[row.code] = (denied[row.code] ?? 0) + n;
      totals.denied[row.code] = (totals.denied[row.code] ?? 0) + n;
    }
    return { from: from.toISOString(), to: to.toISOString(), granularity, series: [...points.values()], totals };
  }
}
