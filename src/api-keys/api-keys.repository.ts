import { EntityManager, FindOptionsWhere, IsNull } from 'typeorm';
import { Tenant } from '../tenants/tenant.entity';
import { ApiKey } from './api-key.entity';
import { KeyStatus, statusSql } from './key-policy';

/** undefined: every key of the tenant; a string: that user's keys; null: service keys. */
export type OwnerScope = string | null | undefined;

export interface KeyListFilter {
  /** Whose keys the caller may see. */
  visibleOwner: OwnerScope;
  /** Whose keys the caller asked for. */
  owner: OwnerScope;
  /** Only the keys of this identity. */
  identityId?: string;
  status?: KeyStatus;
  /** Part of the name, or the start of the key's hint (`kw_Ab12`). */
  q?: string;
  page: number;
  limit: number;
}

/**
 * The queries on api_keys, bound to one EntityManager (a transaction's, or the default one).
 * Every query takes the tenant id and has it in its WHERE clause.
 */
export class ApiKeysRepository {
  constructor(readonly manager: EntityManager) {}

  private get keys() {
    return this.manager.getRepository(ApiKey);
  }

  /** The tenant's row, locked until the transaction ends: key creations of a tenant queue here. */
  lockTenant(tenantId: string): Promise<Tenant | null> {
    return this.manager.getRepository(Tenant).findOne({ where: { id: tenantId }, lock: { mode: 'pessimistic_write' } });
  }

  async list(tenantId: string, filter: KeyListFilter, now: Date): Promise<[ApiKey[], number]> {
    const qb = this.keys.createQueryBuilder('k').where('k.tenant_id = :tenantId', { tenantId });
    const ownedBy = (owner: OwnerScope, param: string) => {
      if (owner === null) qb.andWhere('k.user_id IS NULL');
      else if (owner !== undefined) qb.andWhere(`k.user_id = :${param}`, { [param]: owner });
    };
    ownedBy(filter.visibleOwner, 'visibleOwner');
    ownedBy(filter.owner, 'owner');
    if (filter.identityId) qb.andWhere('k.identity_id = :identityId', { identityId: filter.identityId });
    if (filter.status) qb.andWhere(statusSql(filter.status, ':now'), { now });
    if (filter.q) {
      // The hint keeps the key's start (`kw_Ab12…wxyz`): a query matches a start of it, or a
      // longer piece of the key (pasted from a log) that begins with it.
      const contains = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.andWhere(
        "(k.name ILIKE :contains OR starts_with(k.hint, :q) OR starts_with(:q, split_part(k.hint, '…', 1)))",
        { contains, q: filter.q },
      );
    }
    return qb
      .orderBy('k.created_at', 'DESC')
      .addOrderBy('k.id', 'ASC')
      .skip((filter.page - 1) * filter.limit)
      .take(filter.limit)
      .getManyAndCount();
  }

  /** The keys holding a place under the caps: of the tenant, and of one owner (null: not asked). */
  async countHoldingPlace(
    tenantId: string,
    ownerId: string | null,
    now: Date,
  ): Promise<{ tenant: number; owner: number | null }> {
    const [row]: { tenant: number; owner: number }[] = await this.manager.query(
      `SELECT count(*)::int AS tenant, (count(*) FILTER (WHERE k.user_id = $3))::int AS owner
         FROM api_keys k WHERE k.tenant_id = $1 AND ${statusSql('holdsPlace', '$2')}`,
      [tenantId, now, ownerId],
    );
    return { tenant: row.tenant, owner: ownerId === null ? null : row.owner };
  }

  /** One key of the tenant, if the owner scope lets the caller see it; locked for a change when asked. */
  findVisible(tenantId: string, id: string, owner: OwnerScope, lock = false): Promise<ApiKey | null> {
    return this.keys.findOne({
      where: { id, tenantId, ...(owner !== undefined ? { userId: owner ?? IsNull() } : {}) },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  /** A key of one owner (null: service keys) by its id or its stored hash. */
  findOwn(tenantId: string, ownerId: string | null, by: { id: string } | { keyHash: string }): Promise<ApiKey | null> {
    const where: FindOptionsWhere<ApiKey> = { ...by, tenantId, userId: ownerId ?? IsNull() };
    return this.keys.findOneBy(where);
  }

  findById(tenantId: string, id: string): Promise<ApiKey | null> {
    return this.keys.findOneBy({ id, tenantId });
  }

  async insert(values: Partial<ApiKey>): Promise<ApiKey> {
    return this.keys.save(this.keys.create(values));
  }

  save(key: ApiKey): Promise<ApiKey> {
    return this.keys.save(key);
  }

  /** Revokes one key unless it is already; true when this call revoked it. */
  async revoke(tenantId: string, id: string, now: Date): Promise<boolean> {
    const result = await this.keys.update({ id, tenantId, revokedAt: IsNull() }, { revokedAt: now });
    return Boolean(result.affected);
  }

  /** Names of these keys (of those the owner scope lets the caller see), by id. */
  async namesOf(tenantId: string, ids: string[], owner: OwnerScope): Promise<Map<string, string>> {
    if (!ids.length) return new Map();
    const params: unknown[] = [tenantId, ids];
    let ownedBy = '';
    if (owner === null) ownedBy = ' AND user_id IS NULL';
    else if (owner !== undefined) ownedBy = ` AND user_id = $${params.push(owner)}`;
    const rows: { id: string; name: string }[] = await this.manager.query(
      `SELECT id, name FROM api_keys WHERE tenant_id = $1 AND id = ANY($2::uuid[])${ownedBy}`,
      params,
    );
    return new Map(rows.map((row) => [row.id, row.name]));
  }

  /** The key that replaced each of these keys by rotation, by id of the replaced one. */
  async successorIds(tenantId: string, ids: string[]): Promise<Map<string, string>> {
    if (!ids.length) return new Map();
    const rows: { id: string; rotated_from_id: string }[] = await this.manager.query(
      'SELECT id, rotated_from_id FROM api_keys WHERE tenant_id = $1 AND rotated_from_id = ANY($2::uuid[])',
      [tenantId, ids],
    );
    return new Map(rows.map((row) => [row.rotated_from_id, row.id]));
  }

  /** A rotated-away key: revoked at once, or working until its grace ends. */
  async endWithGrace(tenantId: string, id: string, ends: { revokedAt: Date } | { graceUntil: Date }): Promise<void> {
    await this.keys.update({ id, tenantId }, ends);
  }

  /**
   * Revokes the key with this hash, whatever its tenant: a leak report names a key, not a
   * tenant, and the hash is unique across the service. Returns what the report needs to tell.
   */
  async revokeByHash(
    keyHash: string,
    now: Date,
  ): Promise<Pick<ApiKey, 'id' | 'tenantId' | 'userId' | 'name' | 'hint'>[]> {
    const [revoked]: [Pick<ApiKey, 'id' | 'tenantId' | 'userId' | 'name' | 'hint'>[], number] =
      await this.manager.query(
        `UPDATE api_keys SET revoked_at = $2 WHERE key_hash = $1 AND revoked_at IS NULL
       RETURNING id, tenant_id AS "tenantId", user_id AS "userId", name, hint`,
        [keyHash, now],
      );
    return revoked;
  }
}
