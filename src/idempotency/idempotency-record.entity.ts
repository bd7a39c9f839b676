import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Tenant } from '../tenants/tenant.entity';

/**
 * One Idempotency-Key a caller used on a creating route: reserved (pending) when the request
 * starts, completed with the sealed response when it succeeds. Kept 24 hours.
 */
@Entity('idempotency_keys')
@Index('idempotency_keys_scope_key_idx', ['scope', 'key'], { unique: true })
@Index('idempotency_keys_tenant_id_idx', ['tenantId'])
@Index('idempotency_keys_created_at_idx', ['createdAt'])
export class IdempotencyRecord {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'idempotency_keys_pkey' })
  id: string;

  /** Null for the operator (admin token). */
  @Column({ name: 'tenant_id', type: 'uuid', nullable: true })
  tenantId: string | null;

  /** The exact credential (API key, session or operator token): one never sees another's replays. */
  @Column({ type: 'text' })
  scope: string;

  @Column({ type: 'varchar', length: 255 })
  key: string;

  /** SHA-256 of method, path and body: the same key with another request is refused. */
  @Column({ type: 'char', length: 64 })
  fingerprint: string;

  @Column({ name: 'status_code', type: 'int', nullable: true })
  statusCode: number | null;

  /** The response body, AES-256-GCM sealed: it may hold a full API key. */
  @Column({ type: 'text', nullable: true })
  response: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt: Date | null;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'idempotency_keys_tenant_id_fkey' })
  tenant?: Tenant;
}
