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
import { Person } from '../people/person.entity';

export type UserStatus = 'invited' | 'active' | 'disabled';

/**
 * A person's membership in one tenant: their role and status there. Sessions, keys and
 * one-time tokens belong to a membership, so they are bound to its tenant. The email and the
 * password are the person's (`people`), one for all their tenants.
 */
@Entity('users')
// Leading with person_id, it also finds a person's memberships at sign-in.
@Index('users_person_id_tenant_id_key', ['personId', 'tenantId'], { unique: true })
@Check('users_role_check', "role IN ('owner', 'admin', 'member', 'viewer')")
@Check('users_status_check', "status IN ('invited', 'active', 'disabled')")
export class User {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'users_pkey' })
  id: string;

  @Index('users_tenant_id_idx')
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'person_id', type: 'uuid' })
  personId: string;

  @Column({ type: 'text' })
  role: Role;

  @Column({ type: 'text', default: 'active' })
  status: UserStatus;

  @Column({ name: 'last_login_at', type: 'timestamptz', nullable: true })
  lastLoginAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'users_tenant_id_fkey' })
  tenant?: Tenant;

  @ManyToOne(() => Person, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'person_id', foreignKeyConstraintName: 'users_person_id_fkey' })
  person?: Person;
}

/** A membership loaded with its person, for whatever needs the email. */
export type Membership = User & { person: Person };
