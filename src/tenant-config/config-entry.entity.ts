import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Tenant } from '../tenants/tenant.entity';

/**
 * One configuration value of a tenant. Plain values are stored as JSON; secret values as
 * AES-256-GCM ciphertext (`encrypted`), with `value` null.
 */
@Entity('config_entries')
export class ConfigEntry {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid', primaryKeyConstraintName: 'config_entries_pkey' })
  tenantId: string;

  @PrimaryColumn({ type: 'text', primaryKeyConstraintName: 'config_entries_pkey' })
  key: string;

  @Column({ type: 'jsonb', nullable: true })
  value: unknown;

  @Column({ type: 'text', nullable: true })
  encrypted: string | null;

  @Column({ type: 'boolean', default: false })
  secret: boolean;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column({ name: 'updated_by', type: 'text', nullable: true })
  updatedBy: string | null;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'config_entries_tenant_id_fkey' })
  tenant?: Tenant;
}
