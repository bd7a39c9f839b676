import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { ApiKey } from '../api-keys/api-key.entity';
import { Tenant } from '../tenants/tenant.entity';

/** A permission a tenant defined for its own API (`orders:write`); see permission-name.ts. */
@Entity('permissions')
@Index('permissions_tenant_id_name_key', ['tenantId', 'name'], { unique: true })
export class Permission {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'permissions_pkey' })
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', default: '' })
  description: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'permissions_tenant_id_fkey' })
  tenant?: Tenant;
}

/** A named set of a tenant's permissions (`support` = {`orders:read`}). */
@Entity('roles')
@Index('roles_tenant_id_name_key', ['tenantId', 'name'], { unique: true })
export class Role {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'roles_pkey' })
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', default: '' })
  description: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'roles_tenant_id_fkey' })
  tenant?: Tenant;
}

@Entity('role_permissions')
@Index('role_permissions_tenant_id_permission_id_idx', ['tenantId', 'permissionId'])
export class RolePermission {
  @PrimaryColumn({ name: 'role_id', type: 'uuid', primaryKeyConstraintName: 'role_permissions_pkey' })
  roleId: string;

  @PrimaryColumn({ name: 'permission_id', type: 'uuid', primaryKeyConstraintName: 'role_permissions_pkey' })
  permissionId: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'role_permissions_tenant_id_fkey' })
  tenant?: Tenant;

  @ManyToOne(() => Role, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'role_id', foreignKeyConstraintName: 'role_permissions_role_id_fkey' })
  role?: Role;

  @ManyToOne(() => Permission, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'permission_id', foreignKeyConstraintName: 'role_permissions_permission_id_fkey' })
  permission?: Permission;
}

/** A permission a key carries itself. */
@Entity('key_permissions')
@Index('key_permissions_tenant_id_permission_id_idx', ['tenantId', 'permissionId'])
export class KeyPermission {
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid', primaryKeyConstraintName: 'key_permissions_pkey' })
  apiKeyId: string;

  @PrimaryColumn({ name: 'permission_id', type: 'uuid', primaryKeyConstraintName: 'key_permissions_pkey' })
  permissionId: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'key_permissions_tenant_id_fkey' })
  tenant?: Tenant;

  @ManyToOne(() => ApiKey, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id', foreignKeyConstraintName: 'key_permissions_api_key_id_fkey' })
  apiKey?: ApiKey;

  @ManyToOne(() => Permission, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'permission_id', foreignKeyConstraintName: 'key_permissions_permission_id_fkey' })
  permission?: Permission;
}

/** A role a key carries. */
@Entity('key_roles')
@Index('key_roles_tenant_id_role_id_idx', ['tenantId', 'roleId'])
export class KeyRole {
  @PrimaryColumn({ name: 'api_key_id', type: 'uuid', primaryKeyConstraintName: 'key_roles_pkey' })
  apiKeyId: string;

  @PrimaryColumn({ name: 'role_id', type: 'uuid', primaryKeyConstraintName: 'key_roles_pkey' })
  roleId: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @ManyToOne(() => Tenant, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'tenant_id', foreignKeyConstraintName: 'key_roles_tenant_id_fkey' })
  tenant?: Tenant;

  @ManyToOne(() => ApiKey, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'api_key_id', foreignKeyConstraintName: 'key_roles_api_key_id_fkey' })
  apiKey?: ApiKey;

  @ManyToOne(() => Role, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'role_id', foreignKeyConstraintName: 'key_roles_role_id_fkey' })
  role?: Role;
}
