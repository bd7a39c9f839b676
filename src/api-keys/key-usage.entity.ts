import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Tenant } from '../tenants/tenant.entity';
import { ApiKey } from './api-key.entity';

/** One hour of one key's use: successes, and denials counted by code. Written in batches. */
@Entity('key_usage')
@Index('key_usage_tenant_id_hour_idx', ['tenantId', 'hour'])
export class KeyUsage {
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid', primaryKeyConstraintName: 'key_usage_pkey' })
  apiKeyId: string;

  @PrimaryColumn({ name: 'hour', type: 'timestamptz', primaryKeyConstraintName: 'key_usage_pkey' })
  hour: Date;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'bigint', default: 0 })
  success: string;

  /** Denial code → count. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  denied: Record<string, number>;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'key_usage_tenant_id_fkey' })
  tenant?: Tenant;

  @ManyToOne(() => ApiKey, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id', foreignKeyConstraintName: 'key_usage_api_key_id_fkey' })
  apiKey?: ApiKey;
}
