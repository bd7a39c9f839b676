import {
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  ValueTransformer,
} from 'typeorm';
import { Tenant } from '../tenants/tenant.entity';

export type ActorType = 'user' | 'api_key' | 'admin_token' | 'operator' | 'system';
export type AuditOutcome = 'success' | 'failure' | 'denied';

/** bigint columns come back from pg as strings; seq and ids stay far below 2^53. */
const bigintNumber: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};

/**
 * One security-relevant event. Append-only (a trigger refuses UPDATE and DELETE, except the
 * retention prune); each tenant's events form a hash chain ordered by `seq`.
 */
@Entity('audit_events')
@Index('audit_events_tenant_seq_key', ['tenantId', 'seq'], { unique: true })
@Index('audit_events_occurred_at_idx', ['occurredAt'])
export class AuditEvent {
  /** Global insertion order (a bigint, read as a string); the platform view pages by it. */
  @PrimaryGeneratedColumn('identity', { type: 'bigint', primaryKeyConstraintName: 'audit_events_pkey' })
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  // A deleted tenant takes its chain with it (the trigger lets that cascade through).
  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'audit_events_tenant_id_fkey' })
  tenant?: Tenant;

  @Column({ type: 'bigint', transformer: bigintNumber })
  seq: number;

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
  reason: string | null;

  @Column({ type: 'text', nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;

  /** How many occurrences an aggregated row stands for (denied key uses); 1 otherwise. */
  @Column({ type: 'int', default: 1 })
  count: number;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;

  @Column({ name: 'prev_hash', type: 'text' })
  prevHash: string;

  @Column({ type: 'text' })
  hash: string;
}

/** Where verification of a pruned chain starts: the last event that retention removed. */
@Entity('audit_anchors')
export class AuditAnchor {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'audit_anchors_pkey' })
  tenantId: string;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'audit_anchors_tenant_id_fkey' })
  tenant?: Tenant;

  @Column({ type: 'bigint', transformer: bigintNumber })
  seq: number;

  @Column({ type: 'text' })
  hash: string;

  @Column({ name: 'pruned_before', type: 'timestamptz' })
  prunedBefore: Date;
}
