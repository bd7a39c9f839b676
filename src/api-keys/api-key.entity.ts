import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Tenant } from '../tenants/tenant.entity';
import { User } from '../users/user.entity';
import { Identity } from '../identities/identity.entity';
import type { NamedRateLimit, RateLimitSetting } from '../rate-limit/rate-limit.types';

// Also exported here, where older imports look for it.
export type { RateLimitSetting } from '../rate-limit/rate-limit.types';

export interface QuotaRefill {
  amount: number;
  interval: 'day' | 'month';
}

@Entity('api_keys')
// Lets the periodic sweep find rotated keys whose grace is over without scanning every key.
@Index('api_keys_grace_until_idx', ['graceUntil'], { where: 'grace_until IS NOT NULL AND revoked_at IS NULL' })
// A key is rotated at most once; quota spending follows a rotated key to its successor.
@Index('api_keys_rotated_from_id_key', ['rotatedFromId'], { unique: true, where: 'rotated_from_id IS NOT NULL' })
export class ApiKey {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'api_keys_pkey' })
  id: string;

  @Index('api_keys_tenant_id_idx')
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  /** The owner; null for a service key of the tenant. */
  @Index('api_keys_user_id_idx')
  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  /** Who made it: a user id, or null when an API key or the operator did. */
  @Column({ name: 'created_by_user_id', type: 'uuid', nullable: true })
  createdByUserId: string | null;

  @Column({ name: 'created_by_key_id', type: 'uuid', nullable: true })
  createdByKeyId: string | null;

  @Column({ type: 'text' })
  name: string;

  /** HMAC-SHA256 of the full key with KEY_PEPPER; the key itself is never stored. */
  @Index('api_keys_key_hash_key', { unique: true })
  @Column({ name: 'key_hash', type: 'text' })
  keyHash: string;

  @Column({ type: 'text' })
  hint: string;

  @Column({ type: 'text', array: true })
  scopes: string[];

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt: Date | null;

  @Column({ name: 'rotated_from_id', type: 'uuid', nullable: true })
  rotatedFromId: string | null;

  /** Set on a rotated-away key: it keeps working until then. */
  @Column({ name: 'grace_until', type: 'timestamptz', nullable: true })
  graceUntil: Date | null;

  /** The limit named `default`, which every request spends; null: the tenant's default. */
  @Column({ name: 'rate_limit', type: 'jsonb', nullable: true })
  rateLimit: RateLimitSetting | null;

  /** The key's other named limits (never `default`, which is `rateLimit`), spent when a verify call names them. */
  @Column({ type: 'jsonb', default: () => "'[]'" })
  ratelimits: NamedRateLimit[];

  /** The identity of the tenant's own system this key belongs to, if any. */
  @Index('api_keys_identity_id_idx')
  @Column({ name: 'identity_id', type: 'uuid', nullable: true })
  identityId: string | null;

  /** Uses left; null = no quota. Spent by one atomic UPDATE per successful verification. */
  @Column({ name: 'quota_remaining', type: 'integer', nullable: true })
  quotaRemaining: number | null;

  @Column({ name: 'quota_refill', type: 'jsonb', nullable: true })
  quotaRefill: QuotaRefill | null;

  /** Start of the current refill interval. */
  @Column({ name: 'quota_refilled_at', type: 'timestamptz', nullable: true })
  quotaRefilledAt: Date | null;

  @Column({ name: 'ip_allowlist', type: 'text', array: true, nullable: true })
  ipAllowlist: string[] | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  /** The address of the last successful use (written with last_used_at, in batches). */
  @Column({ name: 'last_used_ip', type: 'text', nullable: true })
  lastUsedIp: string | null;

  @Column({ name: 'usage_count', type: 'bigint', default: 0 })
  usageCount: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'api_keys_tenant_id_fkey' })
  tenant?: Tenant;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'api_keys_user_id_fkey' })
  user?: User;

  // Deleting an identity (with ?force) leaves its keys without one.
  @ManyToOne(() => Identity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'identity_id', foreignKeyConstraintName: 'api_keys_identity_id_fkey' })
  identity?: Identity;
}
