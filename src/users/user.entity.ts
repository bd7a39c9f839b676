import {
  Check,
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
import { Role } from '../common/auth/principal';

export type UserStatus = 'invited' | 'active' | 'disabled';

@Entity('users')
// An address is claimed service-wide by the account that has a password; an invitation (no
// password yet) claims nothing, so it neither blocks nor reveals anyone in another tenant.
@Index('users_email_key', ['email'], { unique: true, where: 'password_hash IS NOT NULL' })
@Index('users_tenant_id_email_key', ['tenantId', 'email'], { unique: true })
@Check('users_role_check', "role IN ('owner', 'admin', 'member', 'viewer')")
@Check('users_status_check', "status IN ('invited', 'active', 'disabled')")
export class User {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'users_pkey' })
  id: string;

  @Index('users_tenant_id_idx')
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  /** Stored lower-cased, so uniqueness is case-insensitive. */
  @Column({ type: 'text' })
  email: string;

  @Column({ type: 'text' })
  role: Role;

  @Column({ type: 'text', default: 'active' })
  status: UserStatus;

  @Column({ name: 'password_hash', type: 'text', nullable: true })
  passwordHash: string | null;

  @Column({ name: 'password_changed_at', type: 'timestamptz', nullable: true })
  passwordChangedAt: Date | null;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'users_tenant_id_fkey' })
  tenant?: Tenant;
}
