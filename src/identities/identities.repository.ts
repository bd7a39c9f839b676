import { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Identity } from './identity.entity';

/**
 * The queries on identities (and on the keys that belong to one), bound to one EntityManager.
 * Every query has the tenant id in its WHERE clause.
 */
export class IdentitiesRepository {
  constructor(private readonly manager: EntityManager) {}

  private get identities() {
    return this.manager.getRepository(Identity);
  }

  findByExternalId(tenantId: string, externalId: string, lock = false): Promise<Identity | null> {
    return this.identities.findOne({
      where: { tenantId, externalId },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  findById(tenantId: string, id: string): Promise<Identity | null> {
    return this.identities.findOneBy({ tenantId, id });
  }

  list(tenantId: string, page: number, limit: number): Promise<[Identity[], number]> {
    return this.identities.findAndCount({
      where: { tenantId },
      order: { externalId: 'ASC' },
      skip: (page - 1) * limit,
      take: limit,
    });
  }

  /**
   * Inserts an identity unless the tenant has one of that id: null when it has (so two
   * concurrent creations of one id make one row and a 409 for the other, never a 500).
   */
  async insert(values: Partial<Identity> & { tenantId: string; externalId: string }): Promise<Identity | null> {
    const result = await this.identities
      .createQueryBuilder()
      .insert()
      .values(values as QueryDeepPartialEntity<Identity>)
      .orIgnore()
      .returning('id')
      .execute();
    const id = (result.raw as { id: string }[])[0]?.id;
    return id ? this.findById(values.tenantId, id) : null;
  }

  /** The identity of this id, made now if the tenant has none: `created` tells which. */
  async ensure(tenantId: string, externalId: string): Promise<{ identity: Identity; created: boolean }> {
    const inserted = await this.insert({ tenantId, externalId });
    if (inserted) return { identity: inserted, created: true };
    return { identity: (await this.findByExternalId(tenantId, externalId))!, created: false };
  }

  save(identity: Identity): Promise<Identity> {
    return this.identities.save(identity);
  }

  async remove(tenantId: string, id: string): Promise<void> {
    await this.identities.delete({ tenantId, id });
  }

  /**
   * The keys of an identity that still work or may again (not revoked, not past their grace);
   * with `lock`, every key of it is locked until the transaction ends.
   */
  async workingKeyIds(tenantId: string, identityId: string, now: Date, lock = false): Promise<string[]> {
    const rows: { id: string; working: boolean }[] = await this.manager.query(
      `SELECT id, (revoked_at IS NULL AND (grace_until IS NULL OR grace_until > $3)) AS working FROM api_keys
        WHERE tenant_id = $1 AND identity_id = $2
        ORDER BY created_at, id ${lock ? 'FOR UPDATE' : ''}`,
      [tenantId, identityId, now],
    );
    return rows.filter((row) => row.working).map((row) => row.id);
  }

  /** How many keys of the identity a caller who sees only `owner`'s keys (null: service keys) does not see. */
  async keysNotOwnedBy(tenantId: string, identityId: string, owner: string | null): Promise<number> {
    const [row]: { count: number }[] = await this.manager.query(
      `SELECT count(*)::int AS count FROM api_keys
        WHERE tenant_id = $1 AND identity_id = $2 AND user_id IS DISTINCT FROM $3`,
      [tenantId, identityId, owner],
    );
    return row.count;
  }

  /**
   * Revokes every key of the identity that is not yet revoked, of one owner only when
   * `owner` is given (null: service keys); the ids of the keys this call revoked.
   */
  async revokeKeys(
    tenantId: string,
    identityId: string,
    owner: string | null | undefined,
    now: Date,
  ): Promise<string[]> {
    const ownerCondition = owner === undefined ? '' : 'AND user_id IS NOT DISTINCT FROM $4';
    const [rows]: [{ id: string }[], number] = await this.manager.query(
      `UPDATE api_keys SET revoked_at = $3
        WHERE tenant_id = $1 AND identity_id = $2 AND revoked_at IS NULL ${ownerCondition}
        RETURNING id`,
      owner === undefined ? [tenantId, identityId, now] : [tenantId, identityId, now, owner],
    );
    return rows.map((row) => row.id).sort();
  }
}
