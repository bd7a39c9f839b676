import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, JoinColumn, ManyToOne } from 'typeorm';
import { User } from '../users/user.entity';
import { Tenant } from '../tenants/tenant.entity';

/** `api`: JWT + refresh token pair. `dashboard`: an opaque cookie with an idle timeout. */
export type SessionKind = 'api' | 'dashboard';

@Entity('sessions')
@Check('sessions_kind_check', "kind IN ('api', 'dashboard')")
export class Session {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'sessions_pkey' })
  id: string;

  @Index('sessions_tenant_id_idx')
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Index('sessions_user_id_idx')
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ type: 'text' })
  kind: SessionKind;

  /** SHA-256 of the dashboard cookie value; null for API sessions. */
  @Index('sessions_token_hash_key', { unique: true })
  @Column({ name: 'token_hash', type: 'text', nullable: true })
  tokenHash: string | null;

  @Column({ type: 'text', nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt: Date;

  /** Absolute end of the session. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  /** Seconds of inactivity after which the session ends; null = no idle limit. */
  @Column({ name: 'idle_timeout_seconds', type: 'integer', nullable: true })
  idleTimeoutSeconds: number | null;

  /** When this sign-in last proved a second factor (at sign-in or a step-up); null = never. */
  @Column({ name: 'factor_verified_at', type: 'timestamptz', nullable: true })
  factorVerifiedAt: Date | null;

  /** The tenant requires a factor the person does not have: the session may only enrol one. */
  @Column({ name: 'mfa_enrolment_required', type: 'boolean', default: false })
  mfaEnrolmentRequired: boolean;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'revoked_reason', type: 'text', nullable: true })
  revokedReason: string | null;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'sessions_tenant_id_fkey' })
  tenant?: Tenant;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'sessions_user_id_fkey' })
  user?: User;
}
