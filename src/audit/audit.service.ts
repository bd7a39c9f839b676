import { HttpStatus, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource, EntityManager, SelectQueryBuilder } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { AppException } from '../common/http/problem';
import { AuditEvent } from './audit-event.entity';
import { eventHash, GENESIS_HASH, HashedFields } from './audit-hash';
import {
  AuditEventDto,
  AuditEventPage,
  AuditInput,
  ChainVerification,
  ListAuditEventsQuery,
  toAuditEventDto,
} from './dto/audit.dto';

const DAY_MS = 86_400_000;
/** First key of the two-key advisory lock that serialises one tenant's appends ("AUDT"). */
const LOCK_CLASS = 0x41554454;
const VERIFY_BATCH = 1000;
const PRUNE_CHECK_MS = 3_600_000;

type Filter = Omit<ListAuditEventsQuery, 'cursor' | 'limit' | 'format'> & { tenantId?: string };

const badCursor = () =>
  new AppException(HttpStatus.BAD_REQUEST, 'INVALID_CURSOR', 'cursor is not a cursor this endpoint gave out');

/**
 * The audit trail: append-only, one hash chain per tenant. `record` writes inside the caller's
 * transaction, so an event exists exactly when the change it records was committed.
 */
@Injectable()
export class AuditService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AuditService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    if (this.config.auditRetentionDays === undefined) return;
    // Checked hourly (restarts cannot skip a day); each run deletes only whole days.
    this.timer = setInterval(
      () => void this.prune().catch((err) => this.logger.warn({ msg: 'audit prune failed; will retry', err })),
      PRUNE_CHECK_MS,
    );
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Appends an event to its tenant's chain, in `manager`'s transaction (or a new one if it has none). */
  async record(manager: EntityManager, input: AuditInput): Promise<void> {
    if (!manager.queryRunner?.isTransactionActive) return manager.transaction((inner) => this.record(inner, input));
    // The tenant row first, as every writer takes it (key creation locks it FOR UPDATE, inserts
    // take KEY SHARE through their foreign key): taking the append lock first could deadlock.
    await manager.query('SELECT 1 FROM tenants WHERE id = $1 FOR KEY SHARE', [input.tenantId]);
    // Serialise this tenant's appends until commit, so no two events take the same prev_hash.
    await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, input.tenantId]);
    const head = await this.headOf(manager, input.tenantId);
    const fields: HashedFields = {
      tenantId: input.tenantId,
      seq: head.seq + 1,
      actorType: input.actor.type,
      actorId: input.actor.id,
      action: input.action,
      targetType: input.target?.type ?? null,
      targetId: input.target?.id ?? null,
      outcome: input.outcome ?? 'success',
      reason: input.reason ?? null,
      ip: input.client?.ip ?? null,
      userAgent: input.client?.userAgent?.slice(0, 512) ?? null,
      requestId: input.client?.requestId ?? null,
      metadata: input.metadata ?? {},
      count: input.count ?? 1,
      occurredAt: input.occurredAt ?? this.clock.now(),
    };
    const f = fields;
    await manager.query(
      `INSERT INTO audit_events (tenant_id, seq, actor_type, actor_id, action, target_type, target_id, outcome, reason, ip, user_agent, request_id, metadata, count, occurred_at, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
      [
        f.tenantId,
        f.seq,
        f.actorType,
        f.actorId,
        f.action,
        f.targetType,
        f.targetId,
        f.outcome,
        f.reason,
        f.ip,
        f.userAgent,
        f.requestId,
        JSON.stringify(f.metadata),
        f.count,
        f.occurredAt,
        head.hash,
        eventHash(head.hash, f),
      ],
    );
  }

  /** A tenant's events, newest first, paged by seq. */
  listForTenant(tenantId: string, query: ListAuditEventsQuery): Promise<AuditEventPage> {
    return this.list({ ...query, tenantId }, 'tenant');
  }

  /** One event of a tenant by its id, or null. */
  async getForTenant(tenantId: string, id: string): Promise<AuditEventDto | null> {
    const event = await this.dataSource.getRepository(AuditEvent).findOneBy({ tenantId, id });
    return event ? toAuditEventDto(event) : null;
  }

  /** Every tenant's events (the operator's view), newest first, paged by id. */
  listAll(query: ListAuditEventsQuery & { tenantId?: string }): Promise<AuditEventPage> {
    return this.list(query, 'platform');
  }

  streamForTenant(tenantId: string, filter: Filter): AsyncGenerator<AuditEventDto> {
    return this.stream({ ...filter, tenantId }, 'tenant');
  }

  streamAll(filter: Filter): AsyncGenerator<AuditEventDto> {
    return this.stream(filter, 'platform');
  }

  /** Newest first; the cursor carries the last seq seen (the platform view: the last id). */
  private async list(
    query: ListAuditEventsQuery & { tenantId?: string },
    scope: 'tenant' | 'platform',
  ): Promise<AuditEventPage> {
    const key = scope === 'tenant' ? 'seq' : 'id';
    const qb = this.filtered(query);
    if (query.cursor) qb.andWhere(`e.${key} < :after`, { after: this.decodeCursor(query.cursor) });
    const rows = await qb
      .orderBy(`e.${key}`, 'DESC')
      .take(query.limit + 1)
      .getMany();
    const items = rows.slice(0, query.limit).map(toAuditEventDto);
    const last = rows.length > query.limit ? items[items.length - 1] : undefined;
    return {
      items,
      nextCursor: last
        ? Buffer.from(JSON.stringify({ k: String(scope === 'tenant' ? last.seq : last.id) })).toString('base64url')
        : null,
    };
  }

  /** Every matching event, newest first, read in pages (for the CSV export). */
  private async *stream(filter: Filter, scope: 'tenant' | 'platform'): AsyncGenerator<AuditEventDto> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...filter, cursor, limit: 200 } as ListAuditEventsQuery, scope);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /**
   * Recomputes the tenant's chain from its anchor (or the start) and reports the first broken
   * link: a missing seq (deleted row), a prev_hash that is not the previous hash (inserted or
   * reordered row), or a hash that does not match the row (edited row).
   */
  async verify(tenantId: string): Promise<ChainVerification> {
    // One snapshot, so a prune or an append running meanwhile cannot look like tampering.
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      const anchor: { seq: string; hash: string } | undefined = (
        await manager.query('SELECT seq, hash FROM audit_anchors WHERE tenant_id = $1', [tenantId])
      )[0];
      let expected = { seq: anchor ? Number(anchor.seq) : 0, hash: anchor?.hash ?? GENESIS_HASH };
      const result: ChainVerification = {
        valid: true,
        checked: 0,
        ...(anchor ? { anchorSeq: Number(anchor.seq) } : {}),
      };
      let after = -1;
      for (;;) {
        const rows = await manager
          .getRepository(AuditEvent)
          .createQueryBuilder('e')
          .where('e.tenant_id = :tenantId AND e.seq > :after', { tenantId, after })
          .orderBy('e.seq', 'ASC')
          .take(VERIFY_BATCH)
          .getMany();
        for (const row of rows) {
          const reason =
            row.seq !== expected.seq + 1
              ? 'SEQ_GAP'
              : row.prevHash !== expected.hash
                ? 'PREV_HASH_MISMATCH'
                : eventHash(row.prevHash, row) !== row.hash
                  ? 'HASH_MISMATCH'
                  : undefined;
          if (reason) return { ...result, valid: false, firstBrokenSeq: row.seq, reason };
          result.checked++;
          expected = { seq: row.seq, hash: row.hash };
        }
        if (rows.length < VERIFY_BATCH) return result;
        after = rows[rows.length - 1].seq;
      }
    });
  }

  /**
   * Deletes whole UTC days older than AUDIT_RETENTION_DAYS. The hash of each tenant's last
   * deleted event becomes its anchor, so what remains still verifies.
   */
  async prune(now: Date = this.clock.now()): Promise<number> {
    const days = this.config.auditRetentionDays;
    if (days === undefined) return 0;
    const cutoff = new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS - days * DAY_MS);
    const tenants: { tenant_id: string; seq: string }[] = await this.dataSource.query(
      'SELECT tenant_id, max(seq) AS seq FROM audit_events WHERE occurred_at < $1 GROUP BY tenant_id',
      [cutoff],
    );
    let deleted = 0;
    for (const { tenant_id: tenantId, seq } of tenants) {
      deleted += await this.dataSource.transaction(async (manager) => {
        await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, tenantId]);
        const [last]: { hash: string }[] = await manager.query(
          'SELECT hash FROM audit_events WHERE tenant_id = $1 AND seq = $2',
          [tenantId, seq],
        );
        await manager.query(
          `INSERT INTO audit_anchors (tenant_id, seq, hash, pruned_before) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, pruned_before = EXCLUDED.pruned_before`,
          [tenantId, seq, last.hash, cutoff],
        );
        // The trigger lets DELETE through only while this transaction-local setting is on.
        await manager.query("SELECT set_config('keyward.audit_prune', 'on', true)");
        // By seq, not time: the chain that remains must start right after the anchor.
        const [, affected] = await manager.query('DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2', [
          tenantId,
          seq,
        ]);
        return Number(affected ?? 0);
      });
    }
    if (deleted) this.logger.log({ msg: 'pruned audit events', deleted, before: cutoff.toISOString() });
    return deleted;
  }

  private async headOf(manager: EntityManager, tenantId: string): Promise<{ seq: number; hash: string }> {
    const [last]: { seq: string; hash: string }[] = await manager.query(
      'SELECT seq, hash FROM audit_events WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1',
      [tenantId],
    );
    const head =
      last ?? (await manager.query('SELECT seq, hash FROM audit_anchors WHERE tenant_id = $1', [tenantId]))[0];
    return head ? { seq: Number(head.seq), hash: head.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  private filtered(filter: Filter): SelectQueryBuilder<AuditEvent> {
    const qb = this.dataSource.getRepository(AuditEvent).createQueryBuilder('e').where('TRUE');
    if (filter.tenantId) qb.andWhere('e.tenant_id = :tenantId', { tenantId: filter.tenantId });
    if (filter.actorType) qb.andWhere('e.actor_type = :actorType', { actorType: filter.actorType });
    if (filter.actorId) qb.andWhere('e.actor_id = :actorId', { actorId: filter.actorId });
    if (filter.action) qb.andWhere('e.action = :action', { action: filter.action });
    if (filter.targetType) qb.andWhere('e.target_type = :targetType', { targetType: filter.targetType });
    if (filter.targetId) qb.andWhere('e.target_id = :targetId', { targetId: filter.targetId });
    if (filter.outcome) qb.andWhere('e.outcome = :outcome', { outcome: filter.outcome });
    if (filter.from) qb.andWhere('e.occurred_at >= :from', { from: new Date(filter.from) });
    if (filter.to) qb.andWhere('e.occurred_at < :to', { to: new Date(filter.to) });
    return qb;
  }

  private decodeCursor(cursor: string): string {
    try {
      const { k } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown };
      if (typeof k === 'string' && /^\d{1,18}$/.test(k)) return k;
    } catch {
      // fall through
    }
    throw badCursor();
  }
}
