import type { RateLimitSetting } from '../rate-limit/rate-limit.types';
import { Check, Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

export type TenantStatus = 'active' | 'suspended';

/** Who must have a second factor: nobody, owners and admins, or every member. */
export type MfaPolicy = 'optional' | 'admins' | 'everyone';
export const MFA_POLICIES: MfaPolicy[] = ['optional', 'admins', 'everyone'];

@Entity('tenants')
@Unique('tenants_slug_key', ['slug'])
@Check('tenants_status_check', "status IN ('active', 'suspended')")
@Check('tenants_mfa_policy_check', "mfa_policy IN ('optional', 'admins', 'everyone')")
export class Tenant {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'tenants_pkey' })
  id: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text' })
  slug: string;

  @Column({ type: 'text', default: 'active' })
  status: TenantStatus;

  @Column({ name: 'max_keys_per_user', type: 'integer', default: 10 })
  maxKeysPerUser: number;

  @Column({ name: 'max_keys_per_tenant', type: 'integer', default: 100 })
  maxKeysPerTenant: number;

  /** Longest lifetime a new API key may have; null = no limit. */
  @Column({ name: 'max_key_lifetime_days', type: 'integer', nullable: true })
  maxKeyLifetimeDays: number | null;

  @Column({
    name: 'default_key_scopes',
    type: 'text',
    array: true,
    default: () => "'{config:read,keys:read}'",
  })
  defaultKeyScopes: string[];

  /** Rate limit of keys that have none of their own. */
  @Column({ name: 'default_key_rate_limit', type: 'jsonb', default: () => `'{"limit": 100, "windowSeconds": 1}'` })
  defaultKeyRateLimit: RateLimitSetting;

  @Column({ name: 'mfa_policy', type: 'text', default: 'optional' })
  mfaPolicy: MfaPolicy;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
