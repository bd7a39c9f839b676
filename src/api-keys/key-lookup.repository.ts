import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DirectPool, directPoolOf } from '../database/data-source.factory';
import type { Role } from '../common/auth/principal';
import type { NamedRateLimit, RateLimitSetting } from '../rate-limit/rate-limit.types';

/** What verification reads about a key, its tenant and its owner, in one indexed lookup. */
export interface KeyLookupRow {
  key_hash: string;
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
  ratelimits: NamedRateLimit[];
  has_quota: boolean;
  identity_id: string | null;
  external_id: string | null;
  identity_meta: Record<string, unknown> | null;
  identity_ratelimits: NamedRateLimit[] | null;
  identity_has_quota: boolean;
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

/** When a key's (or an identity's) quota is next refilled, from its last refill and its interval. */
const NEXT_REFILL = `quota_refilled_at + CASE quota_refill->>'interval' WHEN 'day' THEN interval '1 day' ELSE interval '1 month' END`;

/** A refill is due at $3. */
const DUE = `(quota_refill IS NOT NULL AND ${NEXT_REFILL} <= $3)`;

/** The uses there are to spend now: the refill's amount when one is due. */
const AVAILABLE = `CASE WHEN ${DUE} THEN (quota_refill->>'amount')::int ELSE quota_remaining END`;

/**
 * Spends $4 uses of the quota of the row the caller's WHERE names, in one atomic UPDATE: the row
 * is locked and the condition re-checked on its newest version, so the count is exact under any
 * concurrency and across instances. A refill that is due resets `remaining` to its amount in the
 * same statement. A cost of 0 spends nothing but still needs a use left (a check).
 */
const SPEND = `SET quota_remaining = ${AVAILABLE} - $4::int,
              quota_refilled_at = CASE WHEN ${DUE} THEN $3 ELSE quota_refilled_at END
        WHERE tenant_id = $2 AND (quota_remaining IS NULL OR ${AVAILABLE} >= GREATEST($4::int, 1))`;

/** What one use spends from: the key's own quota (if it has one) and its identity's (if that has one). */
export interface QuotaTarget {
  keyId: string;
  tenantId: string;
  keyQuota: boolean;
  /** The identity whose shared quota is spent too; null when the key has none or it has no quota. */
  identityId: string | null;
}

/** The outcome of spending: uses left afterwards (the smaller of the two, null: unlimited), or which refused. */
export type QuotaSpend = { spent: true; remaining: number | null } | { spent: false; refusedBy: 'key' | 'identity' };

/** Thrown inside the transaction to undo the identity's spend when the key's own quota refuses. */
class KeyQuotaRefused extends Error {}

/**
 * The lookup of a presented key's HMAC: the key, its tenant and its owner, by the unique index.
 * The effective permissions start from the key's own grants (one IN over a UNION ALL, which the
 * planner joins by the primary keys): an OR of two IN lists made it filter every row of the
 * permissions table, so a cold lookup cost grew with the permissions of all tenants.
 */
export const KEY_BY_HASH = `SELECT k.key_hash, k.id, k.tenant_id, k.user_id, k.name, k.metadata, k.scopes, k.expires_at, k.revoked_at, k.disabled_at, k.grace_until,
        k.ip_allowlist, COALESCE(k.rate_limit, t.default_key_rate_limit) AS rate_limit, k.ratelimits,
        k.quota_remaining IS NOT NULL AS has_quota,
        t.status AS tenant_status, u.status AS owner_status, u.role AS owner_role,
        ARRAY(SELECT p.name FROM permissions p
               WHERE p.tenant_id = k.tenant_id
                 AND p.id IN (SELECT kp.permission_id FROM key_permissions kp
                               WHERE kp.tenant_id = k.tenant_id AND kp.api_key_id = k.id
                              UNION ALL
                              SELECT rp.permission_id FROM key_roles kr
                                JOIN role_permissions rp ON rp.role_id = kr.role_id AND rp.tenant_id = kr.tenant_id
                               WHERE kr.tenant_id = k.tenant_id AND kr.api_key_id = k.id)
               ORDER BY p.name) AS permissions,
        ARRAY(SELECT r.name FROM key_roles kr JOIN roles r ON r.id = kr.role_id AND r.tenant_id = kr.tenant_id
               WHERE kr.tenant_id = k.tenant_id AND kr.api_key_id = k.id ORDER BY r.name) AS roles,
        i.id AS identity_id, i.external_id, i.meta AS identity_meta, i.ratelimits AS identity_ratelimits,
        COALESCE(i.quota_remaining IS NOT NULL, false) AS identity_has_quota
   FROM api_keys k
   JOIN tenants t ON t.id = k.tenant_id
   LEFT JOIN users u ON u.id = k.user_id AND u.tenant_id = k.tenant_id
   LEFT JOIN identities i ON i.id = k.identity_id AND i.tenant_id = k.tenant_id
  WHERE k.key_hash = $1`;
/**
 * The same for several hashes at once (the lookups of one turn of the event loop), as prepared
 * statements of a fixed number of parameters. Not `= ANY($1::text[])`: for an array PostgreSQL
 * keeps planning each execution anew (about half a millisecond of its CPU for this query), while
 * a list of scalar parameters gets the cached generic plan, like the single lookup. A batch is
 * padded to the next size with its first hash.
 */
const BATCH_SIZES = [1, 4, 16, 64] as const;
/** A change of KEY_BY_HASH needs new names (connections keep the old plans). */
export const KEYS_BY_HASHES = BATCH_SIZES.map((size) => ({
  size,
  name: `keyward_keys_by_hash_v5_${size}`,
  text:
    size === 1
      ? KEY_BY_HASH
      : KEY_BY_HASH.replace(
          'WHERE k.key_hash = $1',
          `WHERE k.key_hash IN (${Array.from({ length: size }, (_, i) => `$${i + 1}`).join(', ')})`,
        ),
}));
/** Hashes in one lookup at most; more start another. */
const BATCH_MAX = BATCH_SIZES[BATCH_SIZES.length - 1];

interface Waiting {
  resolve(row: KeyLookupRow | undefined): void;
  reject(error: unknown): void;
}
type Batch = Map<string, Waiting[]>;
/** invalid_sql_statement_name, duplicate_prepared_statement: the connection is not the one that prepared it. */
const PREPARED_STATEMENT_LOST = new Set(['26000', '42P05']);

/** The SQL of the verification path: the lookup by hash and the quota spend. */
@Injectable()
export class KeyLookupRepository {
  /** The lookups asked for during this turn of the event loop, by hash, not yet sent. */
  private batch: Batch | null = null;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * By the stored HMAC, which is unique across tenants (the tenant comes from the row). On
   * PostgreSQL the cache misses of one turn of the event loop go out together as one query (a
   * named prepared statement straight on the pg Pool, skipping the ORM's query runner): under
   * load a miss costs a share of one round trip, not one of its own, and a key asked for by
   * several requests at once is read once. The embedded database goes through the ORM, which
   * holds its single connection.
   */
  async findByHash(keyHash: string): Promise<KeyLookupRow | undefined> {
    const pool = directPoolOf(this.dataSource);
    if (!pool) return ((await this.dataSource.query(KEY_BY_HASH, [keyHash])) as KeyLookupRow[])[0];
    return new Promise((resolve, reject) => {
      let batch = this.batch;
      if (!batch) {
        const started: Batch = (batch = this.batch = new Map());
        setImmediate(() => this.send(pool, started));
      }
      const waiting = batch.get(keyHash);
      if (waiting) waiting.push({ resolve, reject });
      else batch.set(keyHash, [{ resolve, reject }]);
      if (batch.size >= BATCH_MAX) this.send(pool, batch);
    });
  }

  private send(pool: DirectPool, batch: Batch): void {
    if (this.batch === batch) this.batch = null;
    if (batch.size === 0) return;
    const hashes = [...batch.keys()];
    const waiting = [...batch.values()];
    batch.clear(); // sent: a second send of the same batch (full, then its setImmediate) finds it empty
    this.lookUp(pool, hashes).then(
      (rows) => {
        const byHash = new Map(rows.map((row) => [row.key_hash, row]));
        hashes.forEach((hash, i) => waiting[i].forEach((w) => w.resolve(byHash.get(hash))));
      },
      (error: unknown) => waiting.forEach((each) => each.forEach((w) => w.reject(error))),
    );
  }

  private async lookUp(pool: DirectPool, hashes: string[]): Promise<KeyLookupRow[]> {
    const statement = KEYS_BY_HASHES.find(({ size }) => size >= hashes.length)!;
    const values = Array.from({ length: statement.size }, (_, i) => hashes[i] ?? hashes[0]);
    try {
      return (await pool.query<KeyLookupRow>({ name: statement.name, text: statement.text, values })).rows;
    } catch (error) {
      // A pooler that hands out server connections per transaction (PgBouncer before 1.21, or
      // without max_prepared_statements) loses prepared statements: ask the same unprepared.
      if (!PREPARED_STATEMENT_LOST.has((error as { code?: string }).code ?? '')) throw error;
      return (await pool.query<KeyLookupRow>({ text: statement.text, values })).rows;
    }
  }

  /**
   * Spends `cost` uses of the key's quota and of its identity's shared quota; both must have
   * them, or neither is spent (one transaction, the identity's row first, so two keys of one
   * identity queue on it in the same order and never deadlock). A rotated key and its
   * successors share one quota, counted on the newest of them: otherwise every rotation would
   * hand out the remaining uses again for the grace period.
   */
  async spendQuota(target: QuotaTarget, now: Date, cost = 1): Promise<QuotaSpend> {
    if (!target.identityId) return this.spendKey(this.dataSource.manager, target, now, cost);
    if (!target.keyQuota) return this.spendIdentity(this.dataSource.manager, target, now, cost);
    try {
      return await this.dataSource.transaction(async (manager) => {
        const identity = await this.spendIdentity(manager, target, now, cost);
        if (!identity.spent) return identity;
        const key = await this.spendKey(manager, target, now, cost);
        if (!key.spent) throw new KeyQuotaRefused();
        return { spent: true, remaining: smaller(identity.remaining, key.remaining) };
      });
    } catch (error) {
      if (error instanceof KeyQuotaRefused) return { spent: false, refusedBy: 'key' };
      throw error;
    }
  }

  private async spendKey(manager: EntityManager, target: QuotaTarget, now: Date, cost: number): Promise<QuotaSpend> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [rows]: [{ quota_remaining: number | null }[], number] = await manager.query(
      `${NEWEST_OF_CHAIN}
       UPDATE api_keys ${SPEND} AND id = (SELECT id FROM newest)
        RETURNING quota_remaining`,
      [target.keyId, target.tenantId, now, cost],
    );
    return rows.length === 1 ? { spent: true, remaining: rows[0].quota_remaining } : { spent: false, refusedBy: 'key' };
  }

  private async spendIdentity(
    manager: EntityManager,
    target: QuotaTarget,
    now: Date,
    cost: number,
  ): Promise<QuotaSpend> {
    const [rows]: [{ quota_remaining: number | null }[], number] = await manager.query(
      `UPDATE identities ${SPEND} AND id = $1 RETURNING quota_remaining`,
      [target.identityId, target.tenantId, now, cost],
    );
    return rows.length === 1
      ? { spent: true, remaining: rows[0].quota_remaining }
      : { spent: false, refusedBy: 'identity' };
  }

  /**
   * Where the quota that refused stands: its uses left (fewer than the cost asked) and when it is
   * next refilled (null: it has no refill, so it is used up for good). Asked only after a
   * refusal, on the row spendQuota counted on (the newest successor, or the identity).
   */
  async quotaState(
    target: QuotaTarget,
    refusedBy: 'key' | 'identity',
  ): Promise<{ remaining: number; refillsAt: Date | null }> {
    const rows: { remaining: number | null; refills_at: Date | null }[] =
      refusedBy === 'identity'
        ? await this.dataSource.query(
            `SELECT quota_remaining AS remaining, CASE WHEN quota_refill IS NOT NULL THEN ${NEXT_REFILL} END AS refills_at
               FROM identities WHERE id = $1 AND tenant_id = $2`,
            [target.identityId, target.tenantId],
          )
        : await this.dataSource.query(
            `${NEWEST_OF_CHAIN}
             SELECT quota_remaining AS remaining, CASE WHEN quota_refill IS NOT NULL THEN ${NEXT_REFILL} END AS refills_at
               FROM api_keys WHERE id = (SELECT id FROM newest) AND tenant_id = $2`,
            [target.keyId, target.tenantId],
          );
    const refillsAt = rows[0]?.refills_at;
    return { remaining: rows[0]?.remaining ?? 0, refillsAt: refillsAt ? new Date(refillsAt) : null };
  }
}

const smaller = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);
