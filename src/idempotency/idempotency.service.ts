import { HttpStatus, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { SecretBox } from '../common/crypto/secret-box';
import { AppException } from '../common/http/problem';

/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * A reservation still pending after this long belongs to a request that died (process killed)
 * and may be taken over; longer than any creating request runs (statement timeout 15 s).
 */
export const IDEMPOTENCY_LEASE_MS = 30_000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;
const SETTLE_RETRY_MS = 500;

export type Reservation = { replay: false; id: string } | { replay: true; statusCode: number; body: unknown };

interface Row {
  id: string;
  fingerprint: string;
  status_code: number | null;
  response: string | null;
  created_at: Date;
  completed_at: Date | null;
}

/**
 * Reserve-then-complete: a pending row (unique per scope and key) is inserted before the
 * handler runs and completed with the sealed response after it. The creation itself runs in
 * the services' own transactions, so the two writes are separate; if the completion cannot be
 * written (database gone) it is retried in the background, and meanwhile retries get 409.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly box: SecretBox;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
    config: AppConfig,
  ) {
    this.box = new SecretBox(config.configEncryptionKey);
  }

  onModuleInit(): void {
    this.timer = setInterval(
      () => void this.prune().catch((err) => this.logger.warn({ msg: 'idempotency prune failed; will retry', err })),
      PRUNE_EVERY_MS,
    );
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Reserves `key` for this request, or answers with what the first request with it got. */
  async reserve(tenantId: string | null, scope: string, key: string, fingerprint: string): Promise<Reservation> {
    const now = this.clock.now();
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted: { id: string }[] = await this.dataSource.query(
        `INSERT INTO idempotency_keys (tenant_id, scope, key, fingerprint, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, key) DO NOTHING RETURNING id`,
        [tenantId, scope, key, fingerprint, now],
      );
      if (inserted.length) return { replay: false, id: inserted[0].id };
      const [row]: Row[] = await this.dataSource.query(
        `SELECT id, fingerprint, status_code, response, created_at, completed_at FROM idempotency_keys
         WHERE tenant_id IS NOT DISTINCT FROM $1 AND scope = $2 AND key = $3`,
        [tenantId, scope, key],
      );
      if (!row) continue; // released meanwhile: try the insert again
      const age = now.getTime() - new Date(row.created_at).getTime();
      const stale = age >= IDEMPOTENCY_TTL_MS || (!row.completed_at && age >= IDEMPOTENCY_LEASE_MS);
      if (stale) {
        const taken: { id: string }[] = await this.dataSource.query(
          `UPDATE idempotency_keys SET fingerprint = $2, created_at = $3, status_code = NULL, response = NULL, completed_at = NULL
           WHERE id = $1 AND created_at = $4 RETURNING id`,
          [row.id, fingerprint, now, row.created_at],
        );
        if (taken.length) return { replay: false, id: row.id };
        continue;
      }
      if (row.fingerprint !== fingerprint) {
        throw new AppException(
          HttpStatus.UNPROCESSABLE_ENTITY,
          'IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was used with a different request',
        );
      }
      if (!row.completed_at || row.status_code === null || row.response === null) {
        throw new AppException(
          HttpStatus.CONFLICT,
          'IDEMPOTENCY_KEY_IN_PROGRESS',
          'A request with this Idempotency-Key is still in progress; retry shortly',
          { retryAfterSeconds: 1 },
        );
      }
      return {
        replay: true,
        statusCode: row.status_code,
        body: JSON.parse(this.box.open(row.response, context(scope, key))),
      };
    }
    throw new AppException(
      HttpStatus.CONFLICT,
      'IDEMPOTENCY_KEY_IN_PROGRESS',
      'A request with this Idempotency-Key is still in progress; retry shortly',
      { retryAfterSeconds: 1 },
    );
  }

  /** Stores the response; if the database is away, keeps trying in the background and rethrows. */
  async complete(id: string, scope: string, key: string, statusCode: number, body: unknown): Promise<void> {
    const sealed = this.box.seal(JSON.stringify(body ?? null), context(scope, key));
    await this.settle(() =>
      this.dataSource.query(
        `UPDATE idempotency_keys SET status_code = $2, response = $3, completed_at = $4 WHERE id = $1`,
        [id, statusCode, sealed, this.clock.now()],
      ),
    );
  }

  /** Frees the key after a failed request, so a retry runs it again. */
  async release(id: string): Promise<void> {
    await this.settle(() =>
      this.dataSource.query(`DELETE FROM idempotency_keys WHERE id = $1 AND completed_at IS NULL`, [id]),
    ).catch(() => undefined);
  }

  /** Deletes keys older than 24 hours. */
  async prune(now: Date = this.clock.now()): Promise<number> {
    const [, affected] = await this.dataSource.query(`DELETE FROM idempotency_keys WHERE created_at < $1`, [
      new Date(now.getTime() - IDEMPOTENCY_TTL_MS),
    ]);
    return Number(affected ?? 0);
  }

  /** Runs `write`; on failure rethrows, and retries it in the background until the lease would end. */
  private async settle(write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      const deadline = Date.now() + IDEMPOTENCY_LEASE_MS - SETTLE_RETRY_MS;
      const retry = () => {
        if (Date.now() > deadline) return this.logger.warn({ msg: 'idempotency record could not be settled' });
        write().catch(() => setTimeout(retry, SETTLE_RETRY_MS).unref());
      };
      setTimeout(retry, SETTLE_RETRY_MS).unref();
      throw error;
    }
  }
}

function context(scope: string, key: string): string {
  return `idempotency:${scope}:${key}`;
}
