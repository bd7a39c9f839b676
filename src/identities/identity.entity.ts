import {
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';
import { Tenant } from '../tenants/tenant.entity';
import type { NamedRateLimit } from '../rate-limit/rate-limit.types';

export interface IdentityQuotaRefill {
  amount: number;
  interval: 'day' | 'month';
}

/**
 * Someone in the tenant's own system (a customer's user or organisation), named by the
 * tenant's id for it. Keys that belong to one identity share its rate limits and its quota.
 */
@Entity('identities')
// Also the index of tenant_id: every query names the tenant first.
@Unique('identities_tenant_id_external_id_key', ['tenantId', 'externalId'])
export class Identity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'identities_pkey' })
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'external_id', type: 'text' })
  externalId: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  meta: Record<string, unknown>;

  /** Limits shared by every key of the identity: one counter per name for all of them. */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  ratelimits: NamedRateLimit[];

  /** Uses left for all its keys together; null = no shared quota. */
  @Column({ name: 'quota_remaining', type: 'integer', nullable: true })
  quotaRemaining: number | null;

  @Column({ name: 'quota_refill', type: 'jsonb', nullable: true })
  quotaRefill: IdentityQuotaRefill | null;

  @Column({ name: 'quota_refilled_at', type: 'timestamptz', nullable: true })
  quotaRefilledAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'identities_tenant_id_fkey' })
  tenant?: Tenant;
}
