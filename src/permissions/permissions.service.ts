import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { actorOf } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { Principal } from '../common/auth/principal';
import { Clock } from '../common/clock';
import { notFound } from '../common/http/errors';
import { AppException } from '../common/http/problem';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import {
  CreatePermissionDto,
  CreateRoleDto,
  PermissionResponse,
  RoleResponse,
  UpdateRoleDto,
} from './dto/permissions.dto';
import { KeyGrantsRepository, KeyRef } from './key-grants.repository';
import { Permission, Role } from './permission.entity';
import { isPermissionName, LIMITS, PERMISSION_NAME_GRAMMAR } from './permission-name';

const conflict = (code: string, message: string, details?: unknown) =>
  new AppException(HttpStatus.CONFLICT, code, message, details);

/** A name from the path: 400 when it is outside the grammar, before any query. */
function checkedName(name: string, what: string): string {
  if (!isPermissionName(name))
    throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', `A ${what} name is ${PERMISSION_NAME_GRAMMAR}`);
  return name;
}

const toPermission = (row: Permission): PermissionResponse => ({
  id: row.id,
  name: row.name,
  description: row.description,
  createdAt: row.createdAt,
});

/**
 * A tenant's own permissions and roles. What a key may hand out stays within what it holds
 * (a key caller adds to a role only permissions it holds itself); changes that alter what
 * keys hold drop the tenant's cached keys on every instance, after commit.
 */
@Injectable()
export class PermissionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    private readonly invalidations: InvalidationBus,
    private readonly audit: AuditService,
  ) {}

  async listPermissions(tenantId: string): Promise<PermissionResponse[]> {
    const rows = await this.dataSource.getRepository(Permission).find({ where: { tenantId }, order: { name: 'ASC' } });
    return rows.map(toPermission);
  }

  async createPermission(actor: Principal, dto: CreatePermissionDto): Promise<PermissionResponse> {
    const tenantId = actor.tenantId!;
    return this.dataSource.transaction(async (manager) => {
      await this.lockTenant(manager, tenantId);
      const permissions = manager.getRepository(Permission);
      if (await permissions.existsBy({ tenantId, name: dto.name }))
        throw conflict('PERMISSION_EXISTS', `The permission ${dto.name} exists already`);
      if ((await permissions.countBy({ tenantId })) >= LIMITS.permissionsPerTenant)
        throw new AppException(
          HttpStatus.FORBIDDEN,
          'PERMISSION_LIMIT_REACHED',
          `A tenant defines at most ${LIMITS.permissionsPerTenant} permissions`,
        );
      const saved = await permissions.save(
        permissions.create({ tenantId, name: dto.name, description: dto.description ?? '' }),
      );
      await this.record(
        manager,
        actor,
        'permission.created',
        { type: 'permission', id: saved.id },
        { name: saved.name },
      );
      return toPermission(saved);
    });
  }

  /** 409 with the keys and roles that carry it, unless `force`: then it goes from them too (audited). */
  async deletePermission(actor: Principal, name: string, force: boolean): Promise<void> {
    const tenantId = actor.tenantId!;
    checkedName(name, 'permission');
    await this.dataSource.transaction(async (manager) => {
      await this.lockTenant(manager, tenantId);
      const permission = await manager.getRepository(Permission).findOneBy({ tenantId, name });
      if (!permission) throw notFound('Permission');
      const grants = new KeyGrantsRepository(manager);
      const keys = await grants.keysCarrying(tenantId, { permissionId: permission.id }, this.clock.now());
      const roles: { name: string }[] = await manager.query(
        `SELECT r.name FROM role_permissions rp JOIN roles r ON r.id = rp.role_id AND r.tenant_id = rp.tenant_id
          WHERE rp.tenant_id = $1 AND rp.permission_id = $2 ORDER BY r.name`,
        [tenantId, permission.id],
      );
      const roleNames = roles.map((role) => role.name);
      if ((keys.length || roleNames.length) && !force) throw inUse('permission', name, keys, roleNames);
      await manager.query('DELETE FROM permissions WHERE tenant_id = $1 AND id = $2', [tenantId, permission.id]);
      await this.record(
        manager,
        actor,
        'permission.deleted',
        { type: 'permission', id: permission.id },
        {
          name,
          force,
          removedFromKeys: keys.map((key) => key.id),
          removedFromRoles: roleNames,
        },
      );
    });
    await this.invalidations.publish({ kind: 'tenant', tenantId });
  }

  async listRoles(tenantId: string): Promise<RoleResponse[]> {
    const rows = await this.dataSource.getRepository(Role).find({ where: { tenantId }, order: { name: 'ASC' } });
    return this.withPermissions(this.dataSource.manager, tenantId, rows);
  }

  async getRole(tenantId: string, name: string): Promise<RoleResponse> {
    checkedName(name, 'role');
    const role = await this.dataSource.getRepository(Role).findOneBy({ tenantId, name });
    if (!role) throw notFound('Role');
    return (await this.withPermissions(this.dataSource.manager, tenantId, [role]))[0];
  }

  async createRole(actor: Principal, dto: CreateRoleDto): Promise<RoleResponse> {
    const tenantId = actor.tenantId!;
    const permissions = dto.permissions ?? [];
    return this.dataSource.transaction(async (manager) => {
      await this.lockTenant(manager, tenantId);
      const roles = manager.getRepository(Role);
      if (await roles.existsBy({ tenantId, name: dto.name }))
        throw conflict('ROLE_EXISTS', `The role ${dto.name} exists already`);
      if ((await roles.countBy({ tenantId })) >= LIMITS.rolesPerTenant)
        throw new AppException(
          HttpStatus.FORBIDDEN,
          'ROLE_LIMIT_REACHED',
          `A tenant defines at most ${LIMITS.rolesPerTenant} roles`,
        );
      const grants = new KeyGrantsRepository(manager);
      const ids = await grants.permissionIds(tenantId, permissions);
      await this.assertHeld(grants, actor, permissions);
      const role = await roles.save(roles.create({ tenantId, name: dto.name, description: dto.description ?? '' }));
      await this.setRolePermissions(manager, tenantId, role.id, ids);
      await this.record(
        manager,
        actor,
        'role.created',
        { type: 'role', id: role.id },
        { name: role.name, permissions },
      );
      return (await this.withPermissions(manager, tenantId, [role]))[0];
    });
  }

  /** Changes a role: every key that carries it changes with it, on every instance within a second. */
  async updateRole(actor: Principal, name: string, dto: UpdateRoleDto): Promise<RoleResponse> {
    const tenantId = actor.tenantId!;
    checkedName(name, 'role');
    const result = await this.dataSource.transaction(async (manager) => {
      await this.lockTenant(manager, tenantId);
      const role = await manager.getRepository(Role).findOneBy({ tenantId, name });
      if (!role) throw notFound('Role');
      const [before] = await this.withPermissions(manager, tenantId, [role]);
      const metadata: Record<string, unknown> = { name };
      if (dto.permissions) {
        const grants = new KeyGrantsRepository(manager);
        const ids = await grants.permissionIds(tenantId, dto.permissions);
        // Taking permissions away grants nothing; adding them is bounded by what the caller holds.
        await this.assertHeld(
          grants,
          actor,
          dto.permissions.filter((p) => !before.permissions.includes(p)),
        );
        await this.setRolePermissions(manager, tenantId, role.id, ids);
        metadata.added = dto.permissions.filter((p) => !before.permissions.includes(p));
        metadata.removed = before.permissions.filter((p) => !dto.permissions!.includes(p));
      }
      if (dto.description !== undefined) role.description = dto.description;
      role.updatedAt = this.clock.now();
      await manager.getRepository(Role).save(role);
      await this.record(manager, actor, 'role.updated', { type: 'role', id: role.id }, metadata);
      return (await this.withPermissions(manager, tenantId, [role]))[0];
    });
    await this.invalidations.publish({ kind: 'tenant', tenantId });
    return result;
  }

  async deleteRole(actor: Principal, name: string, force: boolean): Promise<void> {
    const tenantId = actor.tenantId!;
    checkedName(name, 'role');
    await this.dataSource.transaction(async (manager) => {
      await this.lockTenant(manager, tenantId);
      const role = await manager.getRepository(Role).findOneBy({ tenantId, name });
      if (!role) throw notFound('Role');
      const keys = await new KeyGrantsRepository(manager).keysCarrying(tenantId, { roleId: role.id }, this.clock.now());
      if (keys.length && !force) throw inUse('role', name, keys, []);
      await manager.query('DELETE FROM roles WHERE tenant_id = $1 AND id = $2', [tenantId, role.id]);
      await this.record(
        manager,
        actor,
        'role.deleted',
        { type: 'role', id: role.id },
        {
          name,
          force,
          removedFromKeys: keys.map((key) => key.id),
        },
      );
    });
    await this.invalidations.publish({ kind: 'tenant', tenantId });
  }

  /** A key gives a role only permissions it holds itself; owners and admins (the only people here) any. */
  private async assertHeld(
    grants: KeyGrantsRepository,
    actor: Principal,
    permissions: readonly string[],
  ): Promise<void> {
    if (actor.kind !== 'apiKey' || !permissions.length) return;
    const held = new Set(await grants.effectiveOf(actor.tenantId!, actor.apiKeyId!));
    const beyond = permissions.filter((permission) => !held.has(permission));
    if (beyond.length)
      throw new AppException(
        HttpStatus.FORBIDDEN,
        'PERMISSION_NOT_ALLOWED',
        `Beyond your own permissions: ${beyond.join(' ')}`,
        { permissions: beyond },
      );
  }

  private async setRolePermissions(manager: EntityManager, tenantId: string, roleId: string, ids: string[]) {
    await manager.query('DELETE FROM role_permissions WHERE tenant_id = $1 AND role_id = $2', [tenantId, roleId]);
    if (ids.length)
      await manager.query(
        'INSERT INTO role_permissions (tenant_id, role_id, permission_id) SELECT $1, $2, unnest($3::uuid[])',
        [tenantId, roleId, ids],
      );
  }

  private async withPermissions(manager: EntityManager, tenantId: string, roles: Role[]): Promise<RoleResponse[]> {
    if (!roles.length) return [];
    const rows: { role_id: string; name: string }[] = await manager.query(
      `SELECT rp.role_id, p.name FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id AND p.tenant_id = rp.tenant_id
        WHERE rp.tenant_id = $1 AND rp.role_id = ANY($2::uuid[]) ORDER BY p.name`,
      [tenantId, roles.map((role) => role.id)],
    );
    return roles.map((role) => ({
      id: role.id,
      name: role.name,
      description: role.description,
      permissions: rows.filter((row) => row.role_id === role.id).map((row) => row.name),
      createdAt: role.createdAt,
      updatedAt: role.updatedAt,
    }));
  }

  /** Changes to a tenant's permissions and roles queue on its row, as key creations do. */
  private async lockTenant(manager: EntityManager, tenantId: string): Promise<void> {
    await manager.query('SELECT id FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
  }

  private record(
    manager: EntityManager,
    actor: Principal,
    action: string,
    target: { type: string; id: string },
    metadata: Record<string, unknown>,
  ) {
    return this.audit.record(manager, { tenantId: actor.tenantId!, actor: actorOf(actor), action, target, metadata });
  }
}

function inUse(what: 'permission' | 'role', name: string, keys: KeyRef[], roles: string[]): AppException {
  const users = [keys.length ? `${keys.length} key(s)` : '', roles.length ? `role(s) ${roles.join(' ')}` : '']
    .filter(Boolean)
    .join(' and ');
  return conflict(
    what === 'role' ? 'ROLE_IN_USE' : 'PERMISSION_IN_USE',
    `The ${what} ${name} is carried by ${users}; remove it from them first, or delete with ?force=true`,
    { keys, ...(what === 'permission' ? { roles } : {}) },
  );
}
