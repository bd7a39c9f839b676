import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { ActorType, AuditOutcome } from '../audit/audit-event.entity';

/**
 * What operators do that belongs to no tenant: the bootstrap, adding operators, console
 * sign-ins. Append-only like audit_events (a trigger refuses UPDATE, DELETE and TRUNCATE);
 * what an operator does to a tenant goes into that tenant's own audit chain.
 */
@Entity('operator_events')
@Index('operator_events_occurred_at_idx', ['occurredAt'])
export class OperatorEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', primaryKeyConstraintName: 'operator_events_pkey' })
  id: string;

  @Column({ name: 'actor_type', type: 'text' })
  actorType: ActorType;

  @Column({ name: 'actor_id', type: 'text', nullable: true })
  actorId: string | null;

  @Column({ type: 'text' })
  action: string;

  @Column({ name: 'target_type', type: 'text', nullable: true })
  targetType: string | null;

  @Column({ name: 'target_id', type: 'text', nullable: true })
  targetId: string | null;

  @Column({ type: 'text' })
  outcome: AuditOutcome;

  @Column({ type: 'text', nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;
}
