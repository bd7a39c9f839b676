import { HttpStatus } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AppException } from '../common/http/problem';
import { statusSql } from '../api-keys/key-policy';

/** What a key carries of its tenant's own permissions: its own ones and its roles (names). */
export interface KeyGrants {
  permissions: string[];
  roles: string[];
}

export const NO_GRANTS: KeyGrants = Object.freeze({ permissions: [], roles: [] }) as KeyGrants;

/** A key that still works (or will once enabled), as a 409 lists it. */
export interface KeyRef {
  id: string;
  name: string;
}

const unknown = (code: string, what: string, names: string[]) =>
  new AppException(HttpStatus.BAD_REQUEST, code, `Unknown ${what} of this tenant: ${names.slice(0, 20).join(' ')}`, {
    [what.replace(/ /g, '')]: names,
  });

/**
 * The SQL of permissions, roles and what keys carry, bound to one EntityManager (a
 * transaction's, or the default one). Every query has the tenant id in its WHERE clause, and
 * names are resolved only among the tenant's own rows.
 */
export class KeyGrantsRepository {
  constructor(private readonly manager: EntityManager) {}

  /** Ids of the tenant's permissions by name; 400 naming those that do not exist. */
  async permissionIds(tenantId: string, names: readonly string[]): Promise<string[]> {
    return this.ids('permissions', tenantId, names, 'UNKNOWN_PERMISSIONS', 'permissions');
  }

  async roleIds(tenantId: string, names: readonly string[]): Promise<string[]> {
    return this.ids('roles', tenantId, names, 'UNKNOWN_ROLES', 'roles');
  }

  private async ids(
    table: 'permissions' | 'roles',
    tenantId: string,
    names: readonly string[],
    code: string,
    what: string,
  ): Promise<string[]> {
    if (!names.length) return [];
    const rows: { id: string; name: string }[] = await this.manager.query(
      `SELECT id, name FROM ${table} WHERE tenant_id = $1 AND name = ANY($2::text[])`,
      [tenantId, names],
    );
    const found = new Map(rows.map((row) => [row.name, row.id]));
    const missing = names.filter((name) => !found.has(name));
    if (missing.length) throw unknown(code, what, missing);
    return names.map((name) => found.get(name)!);
  }

  /** The permissions and roles each of these keys carries, sorted by name. */
  async grantsOf(tenantId: string, keyIds: readonly string[]): Promise<Map<string, KeyGrants>> {
    const grants = new Map<string, KeyGrants>(keyIds.map((id) => [id, { permissions: [], roles: [] }]));
    if (!keyIds.length) return grants;
    const rows: { key_id: string; kind: 'permission' | 'role'; name: string }[] = await this.manager.query(
      `SELECT kp.api_key_id AS key_id, 'permission' AS kind, p.name
         FROM key_permissions kp JOIN permissions p ON p.id = kp.permission_id AND p.tenant_id = kp.tenant_id
        WHERE kp.tenant_id = $1 AND kp.api_key_id = ANY($2::uuid[])
       UNION ALL
       SELECT kr.api_key_id, 'role', r.name
         FROM key_roles kr JOIN roles r ON r.id = kr.role_id AND r.tenant_id = kr.tenant_id
        WHERE kr.tenant_id = $1 AND kr.api_key_id = ANY($2::uuid[])
        ORDER BY 3`,
      [tenantId, keyIds],
    );
    for (const row of rows) grants.get(row.key_id)?.[row.kind === 'role' ? 'roles' : 'permissions'].push(row.name);
    return grants;
  }

  /** A key's effective permissions: its own and its roles', sorted. */
  async effectiveOf(tenantId: string, keyId: string): Promise<string[]> {
    const rows: { name: string }[] = await this.manager.query(
      // From the key's grants (as KEY_BY_HASH): an OR of two IN lists filters every permission of the tenant.
      `SELECT p.name FROM permissions p
        WHERE p.tenant_id = $1
          AND p.id IN (SELECT permission_id FROM key_permissions WHERE tenant_id = $1 AND api_key_id = $2
                       UNION ALL
                       SELECT rp.permission_id FROM key_roles kr JOIN role_permissions rp ON rp.role_id = kr.role_id AND rp.tenant_id = kr.tenant_id
                        WHERE kr.tenant_id = $1 AND kr.api_key_id = $2)
        ORDER BY 1`,
      [tenantId, keyId],
    );
    return rows.map((row) => row.name);
  }

  /** The permissions of these roles, together. */
  async permissionsOfRoles(tenantId: string, roleNames: readonly string[]): Promise<string[]> {
    if (!roleNames.length) return [];
    const rows: { name: string }[] = await this.manager.query(
      `SELECT DISTINCT p.name FROM roles r
         JOIN role_permissions rp ON rp.role_id = r.id AND rp.tenant_id = r.tenant_id
         JOIN permissions p ON p.id = rp.permission_id AND p.tenant_id = r.tenant_id
        WHERE r.tenant_id = $1 AND r.name = ANY($2::text[]) ORDER BY 1`,
      [tenantId, roleNames],
    );
    return rows.map((row) => row.name);
  }

  /** Replaces what a key carries (names already resolved to ids of its tenant). */
  async setKeyGrants(
    tenantId: string,
    keyId: string,
    grants: { permissionIds?: readonly string[]; roleIds?: readonly string[] },
  ): Promise<void> {
    if (grants.permissionIds) {
      await this.manager.query('DELETE FROM key_permissions WHERE tenant_id = $1 AND api_key_id = $2', [
        tenantId,
        keyId,
      ]);
      if (grants.permissionIds.length)
        await this.manager.query(
          'INSERT INTO key_permissions (tenant_id, api_key_id, permission_id) SELECT $1, $2, unnest($3::uuid[])',
          [tenantId, keyId, grants.permissionIds],
        );
    }
    if (grants.roleIds) {
      await this.manager.query('DELETE FROM key_roles WHERE tenant_id = $1 AND api_key_id = $2', [tenantId, keyId]);
      if (grants.roleIds.length)
        await this.manager.query(
          'INSERT INTO key_roles (tenant_id, api_key_id, role_id) SELECT $1, $2, unnest($3::uuid[])',
          [tenantId, keyId, grants.roleIds],
        );
    }
  }

  /** A rotated key's successor carries what it carried. */
  async copyKeyGrants(tenantId: string, fromKeyId: string, toKeyId: string): Promise<void> {
    await this.manager.query(
      `INSERT INTO key_permissions (tenant_id, api_key_id, permission_id)
       SELECT tenant_id, $3, permission_id FROM key_permissions WHERE tenant_id = $1 AND api_key_id = $2`,
      [tenantId, fromKeyId, toKeyId],
    );
    await this.manager.query(
      `INSERT INTO key_roles (tenant_id, api_key_id, role_id)
       SELECT tenant_id, $3, role_id FROM key_roles WHERE tenant_id = $1 AND api_key_id = $2`,
      [tenantId, fromKeyId, toKeyId],
    );
  }

  /**
   * The keys that still hold a place (not revoked, not expired) and carry this permission or
   * role directly. Ended keys never verify again, so they do not keep a deletion from happening.
   */
  async keysCarrying(
    tenantId: string,
    what: { permissionId: string } | { roleId: string },
    now: Date,
  ): Promise<KeyRef[]> {
    const [table, column, id] =
      'permissionId' in what
        ? ['key_permissions', 'permission_id', what.permissionId]
        : ['key_roles', 'role_id', what.roleId];
    return this.manager.query(
      `SELECT k.id, k.name FROM ${table} g JOIN api_keys k ON k.id = g.api_key_id AND k.tenant_id = g.tenant_id
        WHERE g.tenant_id = $1 AND g.${column} = $2 AND ${statusSql('holdsPlace', '$3')}
        ORDER BY k.created_at, k.id`,
      [tenantId, id, now],
    );
  }
}
