import { Check, Column, CreateDateColumn, Entity, Index, PrimaryColumn, JoinColumn, ManyToOne } from 'typeorm';
import { User } from '../users/user.entity';
import { Tenant } from '../tenants/tenant.entity';

/** Password reset, invitation and email-change tokens: single use, stored as SHA-256. */
export type OneTimeTokenPurpose = 'password_reset' | 'invitation' | 'email_change';

@Entity('one_time_tokens')
@Check('one_time_tokens_purpose_check', "purpose IN ('password_reset', 'invitation', 'email_change')")
export class OneTimeToken {
  @PrimaryColumn({ name: 'token_hash', type: 'text', primaryKeyConstraintName: 'one_time_tokens_pkey' })
  tokenHash: string;

  @Column({ type: 'text' })
  purpose: OneTimeTokenPurpose;

  @Index('one_time_tokens_tenant_id_idx')
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Index('one_time_tokens_user_id_idx')
  @Column({ name: 'user_id', type: 'uuid' })
  userId: string;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'used_at', type: 'timestamptz', nullable: true })
  usedAt: Date | null;

  /** For an email change: the address the link was sent to, which it confirms. */
  @Column({ name: 'new_email', type: 'text', nullable: true })
  newEmail: string | null;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'one_time_tokens_tenant_id_fkey' })
  tenant?: Tenant;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'one_time_tokens_user_id_fkey' })
  user?: User;
}
