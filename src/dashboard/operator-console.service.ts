import { Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import type { AuditActor } from '../audit/dto/audit.dto';
import { Clock } from '../common/clock';
import { Person } from '../people/person.entity';
import { Tenant } from '../tenants/tenant.entity';

const DAY_MS = 86_400_000;

export interface TenantCounts {
  members: number;
  activeKeys: number;
}

/**
 * What the console reads across tenants: counts, names and usage. Only operator routes use
 * it; these are the service's only queries that are deliberately not limited to one tenant.
 */
@Injectable()
export class OperatorConsoleService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  async counts(tenantId: string): Promise<TenantCounts> {
    return (await this.countsFor([tenantId])).get(tenantId) ?? { members: 0, activeKeys: 0 };
  }

  /** Members and working keys (not revoked, not expired) of each tenant. */
  async countsFor(tenantIds: string[]): Promise<Map<string, TenantCounts>> {
    if (!tenantIds.length) return new Map();
    const rows: { id: string; members: string; keys: string }[] = await this.dataSource.query(
      `SELECT t.id,
              (SELECT count(*) FROM users u WHERE u.tenant_id = t.id) AS members,
              (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS NULL
                  AND (k.expires_at IS NULL OR k.expires_at > $2)) AS keys
         FROM tenants t WHERE t.id = ANY($1::uuid[])`,
      [tenantIds, this.clock.now()],
    );
    return new Map(rows.map((row) => [row.id, { members: Number(row.members), activeKeys: Number(row.keys) }]));
  }

  async tenantNames(ids: string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    if (!unique.length) return new Map();
    const tenants = await this.dataSource
      .getRepository(Tenant)
      .find({ where: { id: In(unique) }, select: { id: true, name: true } });
    return new Map(tenants.map((tenant) => [tenant.id, tenant.name]));
  }

  /** For the audit filter's list; the first 500 by name (a longer list needs the search page). */
  allTenantNames(): Promise<{ id: string; name: string }[]> {
    return this.dataSource
      .getRepository(Tenant)
      .find({ select: { id: true, name: true }, order: { name: 'ASC', id: 'ASC' }, take: 500 });
  }

  async operatorEmails(): Promise<Map<string, string>> {
    const people = await this.dataSource
      .getRepository(Person)
      .find({ where: { isOperator: true }, select: { id: true, email: true } });
    return new Map(people.map((person) => [person.id, person.email]));
  }

  /** Who did it, in words: an operator's or member's email where known. */
  actorLabel(actor: AuditActor, operators: Map<string, string>, members = new Map<string, string>()): string {
    if (actor.type === 'operator') return `operator ${operators.get(actor.id ?? '') ?? '(removed)'}`;
    if (actor.type === 'admin_token') return 'admin token';
    if (actor.type === 'user') return members.get(actor.id ?? '') ?? 'a user';
    if (actor.type === 'api_key') return 'API key';
    return 'system';
  }

  /** Successes and denials per tenant over the last `days` days, busiest first. */
  async usageByTenant(days: number) {
    const since = new Date(this.clock.now().getTime() - days * DAY_MS);
    const rows: { id: string; name: string; status: string; success: string; denied: string }[] =
      await this.dataSource.query(
        `SELECT t.id, t.name, t.status,
                coalesce(sum(u.success), 0)::bigint AS success,
                coalesce(sum(dn.n), 0)::bigint AS denied
           FROM key_usage u JOIN tenants t ON t.id = u.tenant_id
           CROSS JOIN LATERAL (SELECT coalesce(sum(d.value::bigint), 0) AS n FROM jsonb_each_text(u.denied) d) dn
          WHERE u.hour >= $1
          GROUP BY t.id, t.name, t.status
          ORDER BY 4 DESC, 5 DESC, t.name
          LIMIT 200`,
        [since],
      );
    const tenants = rows.map((row) => ({ ...row, success: Number(row.success), denied: Number(row.denied) }));
    return {
      rows: tenants,
      totals: {
        success: tenants.reduce((sum, row) => sum + row.success, 0),
        denied: tenants.reduce((sum, row) => sum + row.denied, 0),
      },
    };
  }

  /** One tenant's successes and denials by code over the last `days` days. */
  async usageOfTenant(tenantId: string, days: number) {
    const since = new Date(this.clock.now().getTime() - days * DAY_MS);
    const [success, denied]: [{ n: string }[], { code: string; n: string }[]] = await Promise.all([
      this.dataSource.query(
        'SELECT coalesce(sum(u.success), 0)::bigint AS n FROM key_usage u WHERE u.tenant_id = $1 AND u.hour >= $2',
        [tenantId, since],
      ),
      this.dataSource.query(
        `SELECT d.key AS code, sum(d.value::bigint)::bigint AS n FROM key_usage u, jsonb_each_text(u.denied) d
          WHERE u.tenant_id = $1 AND u.hour >= $2 GROUP BY 1 ORDER BY 2 DESC`,
        [tenantId, since],
      ),
    ]);
    return {
      days,
      success: Number(success[0]?.n ?? 0),
      denied: denied.map((row) => ({ code: row.code, count: Number(row.n) })),
    };
  }
}
