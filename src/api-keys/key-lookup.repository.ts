import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { directPoolOf } from '../database/data-source.factory';
import type { Role } from '../common/auth/principal';
import type { RateLimitSetting } from './api-key.entity';

/** What verification reads about a key, its tenant and its owner, in one indexed lookup. */
export interface KeyLookupRow {
  id: string;
  tenant_id: string;
  user_id: string | null;
  name: string;
  metadata: Record<string, unknown>;
  scopes: string[];
  /** Effective tenant permissions (the key's own and its roles'), sorted. */
  permissions: string[];
  roles: string[];
  expires_at: Date | null;
  revoked_at: Date | null;
  disabled_at: Date | null;
  grace_until: Date | null;
  ip_allowlist: string[] | null;
  rate_limit: RateLimitSetting;
  has_quota: boolean;
  tenant_status: string;
  owner_status: string | null;
  owner_role: Role | null;
}

/**
 * The newest key of the rotation chain that starts at key $1 of tenant $2, as the CTE `newest`:
 * a rotated key and its successors share one quota, counted on the newest of them.
 */
const NEWEST_OF_CHAIN = `WITH RECURSIVE successors AS (
         SELECT id, 0 AS generation FROM api_keys WHERE id = $1 AND tenant_id = $2
         UNION ALL
         SELECT k.id, s.generation + 1 FROM api_keys k JOIN successors s ON k.rotated_from_id = s.id
          WHERE k.tenant_id = $2
       ), newest AS (SELECT id FROM successors ORDER BY generation DESC LIMIT 1)`;

/** When a key's quota is next refilled, from its last refill and its interval. */
const NEXT_REFILL = `quota_refilled_at + CASE quota_refill->>'interval' WHEN 'day' THEN interval '1 day' ELSE interval '1 month' END`;

/** The lookup of a presented key's HMAC: the key, its tenant and its owner, by the unique index. */
export const KEY_BY_HASH = `SELECT k.id, k.tenant_id, k.user_id, k.name, k.metadata, k.scopes, k.expires_at, k.revoked_at, k.disabled_at, k.grace_until,
       k.ip_allowlist, COALESCE(k.rate_limit, t.default_key_rate_limit) AS rate_limit,
       k.quota_remaining IS NOT NULL AS has_quota,
       t.status AS tenant_status, u.status AS owner_status, u.role AS owner_role,
       ARRAY(SELECT p.name FROM permissions p
              WHERE p.tenant_id = k.tenant_id
                AND (p.id IN (SELECT kp.permission_id FROM key_permissions kp
                               WHERE kp.tenant_id = k.tenant_id AND kp.api_key_id = k.id)
                  OR p.id IN (SELECT rp.permission_id FROM key_roles kr
                                JOIN role_permissions rp ON rp.role_id = kr.role_id AND rp.tenant_id = kr.tenant_id
                               WHERE kr.tenant_id = k.tenant_id AND kr.api_key_id = k.id))
              ORDER BY p.name) AS permissions,
       ARRAY(SELECT r.name FROM key_roles kr JOIN roles r ON r.id = kr.role_id AND r.tenant_id = kr.tenant_id
              WHERE kr.tenant_id = k.tenant_id AND kr.api_key_id = k.id ORDER BY r.name) AS roles
  FROM api_keys k
  JOIN tenants t ON t.id = k.tenant_id
  LEFT JOIN users u ON u.id = k.user_id AND u.tenant_id = k.tenant_id
 WHERE k.key_hash = $1`;
/** The prepared statement's name; a change of KEY_BY_HASH needs a new one (connections keep the old plan). */
export const KEY_BY_HASH_NAME = 'keyward_key_by_hash_v2';
/** invalid_sql_statement_name, duplicate_prepared_statement: the connection is not the one that prepared it. */
const PREPARED_STATEMENT_LOST = new Set(['26000', '42P05']);

/** The SQL of the verification path: the lookup by hash and the quota spend. */
@Injectable()
export class KeyLookupRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * By the stored HMAC, which is unique across tenants (the tenant comes from the row). On
   * PostgreSQL a named prepared statement straight on the pg Pool: each connection plans it
   * once, and the ORM's query runner (a runner object, a release, its logging hooks) is skipped
   * on the one query of a cache miss. The embedded database goes through the ORM, which holds
   * its single connection.
   */
  async findByHash(keyHash: string): Promise<KeyLookupRow | undefined> {
    const pool = directPoolOf(this.dataSource);
    if (!pool) return ((await this.dataSource.query(KEY_BY_HASH, [keyHash])) as KeyLookupRow[])[0];
    try {
      return (await pool.query<KeyLookupRow>({ name: KEY_BY_HASH_NAME, text: KEY_BY_HASH, values: [keyHash] })).rows[0];
    } catch (error) {
      // A pooler that hands out server connections per transaction (PgBouncer before 1.21, or
      // without max_prepared_statements) loses prepared statements: ask the same unprepared.
      if (!PREPARED_STATEMENT_LOST.has((error as { code?: string }).code ?? '')) throw error;
      return (await pool.query<KeyLookupRow>({ text: KEY_BY_HASH, values: [keyHash] })).rows[0];
    }
  }

  /**
   * Spends one use in one atomic UPDATE, so the count is exact under any concurrency and across
   * instances; false when none is left. A refill that is due resets `remaining` to its amount in
   * the same statement. A rotated key and its successors share one quota, counted on the newest
   * of them: otherwise every rotation would hand out the remaining uses again for the grace period.
   * The uses left after this one, or null when none was left to spend.
   */
  async spendQuota(keyId: string, tenantId: string, now: Date): Promise<number | null> {
    const due = `(quota_refill IS NOT NULL AND ${NEXT_REFILL} <= $3)`;
    // TypeORM answers an UPDATE with [rows, affected].
    const [rows]: [{ quota_remaining: number }[], number] = await this.dataSource.query(
      `${NEWEST_OF_CHAIN}
       UPDATE api_keys
          SET quota_remaining = CASE WHEN ${due} THEN (quota_refill->>'amount')::int ELSE quota_remaining END - 1,
              quota_refilled_at = CASE WHEN ${due} THEN $3 ELSE quota_refilled_at END
        WHERE id = (SELECT id FROM newest) AND tenant_id = $2
          AND (quota_remaining IS NULL OR quota_remaining > 0 OR ${due})
        RETURNING quota_remaining`,
      [keyId, tenantId, now],
    );
    return rows.length === 1 ? rows[0].quota_remaining : null;
  }

  /**
   * When the quota that refused a key is next refilled (null: it has no refill, so it is used up
   * for good). Asked only after a refusal, on the same newest successor that spendQuota counts on.
   */
  async nextQuotaRefill(keyId: string, tenantId: string): Promise<Date | null> {
    const rows: { refills_at: Date | null }[] = await this.dataSource.query(
      `${NEWEST_OF_CHAIN}
       SELECT ${NEXT_REFILL} AS refills_at
         FROM api_keys
        WHERE id = (SELECT id FROM newest) AND tenant_id = $2
          AND quota_refill IS NOT NULL`,
      [keyId, tenantId],
    );
    const refillsAt = rows[0]?.refills_at;
    return refillsAt ? new Date(refillsAt) : null;
  }
}
