import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import type { AuditActor, AuditClient } from '../audit/dto/audit.dto';
import type { AuditOutcome } from '../audit/audit-event.entity';
import { Clock } from '../common/clock';
import { OperatorEvent } from './operator-event.entity';

export interface OperatorEventInput {
  actor: AuditActor;
  action: string;
  target?: { type: string; id: string | null };
  outcome?: AuditOutcome;
  client?: AuditClient;
  /** Never a secret (tokens, passwords). */
  metadata?: Record<string, unknown>;
}

export interface OperatorEventDto {
  id: string;
  actor: AuditActor;
  action: string;
  target: { type: string; id: string | null } | null;
  outcome: AuditOutcome;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
  occurredAt: Date;
}

/** The service-wide trail of operator actions that concern no tenant. */
@Injectable()
export class OperatorEventsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  async record(manager: EntityManager, input: OperatorEventInput): Promise<void> {
    await manager.getRepository(OperatorEvent).insert({
      // jsonb: TypeORM's partial-entity type does not take an open record
      metadata: (input.metadata ?? {}) as never,
      actorType: input.actor.type,
      actorId: input.actor.id,
      action: input.action,
      targetType: input.target?.type ?? null,
      targetId: input.target?.id ?? null,
      outcome: input.outcome ?? 'success',
      ip: input.client?.ip ?? null,
      userAgent: input.client?.userAgent?.slice(0, 512) ?? null,
      requestId: input.client?.requestId ?? null,
      occurredAt: this.clock.now(),
    });
  }

  /** Newest first; `before` is the id of the last event of the previous page. */
  async list(limit: number, before?: string): Promise<{ items: OperatorEventDto[]; nextBefore: string | null }> {
    const qb = this.dataSource.getRepository(OperatorEvent).createQueryBuilder('e');
    if (before) qb.where('e.id < :before', { before });
    const rows = await qb
      .orderBy('e.id', 'DESC')
      .take(limit + 1)
      .getMany();
    const items = rows.slice(0, limit).map((row) => ({
      id: String(row.id),
      actor: { type: row.actorType, id: row.actorId },
      action: row.action,
      target: row.targetType ? { type: row.targetType, id: row.targetId } : null,
      outcome: row.outcome,
      ip: row.ip,
      userAgent: row.userAgent,
      requestId: row.requestId,
      metadata: row.metadata,
      occurredAt: row.occurredAt,
    }));
    return { items, nextBefore: rows.length > limit ? items[items.length - 1].id : null };
  }
}
