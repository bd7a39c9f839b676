import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '../common/clock';
import { AppException } from '../common/http/problem';
import { AuthThrottle } from './auth-throttle.entity';

export interface ThrottleRule {
  key: string;
  limit: number;
}

const WINDOW_MS = 15 * 60 * 1000;

/**
 * Fixed 15-minute windows of failure counts per key (an account from one address, an
 * address, …), stored in the database so that a restart does not reset them.
 */
@Injectable()
export class AuthThrottleService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  /** Throws 429 with Retry-After when any rule's count has reached its limit. */
  async assertAllowed(rules: ThrottleRule[]): Promise<void> {
    const now = this.clock.now().getTime();
    const rows = await this.dataSource
      .getRepository(AuthThrottle)
      .createQueryBuilder('t')
      .where('t.key IN (:...keys)', { keys: rules.map((r) => r.key) })
      .getMany();
    let retryAfterMs = 0;
    for (const row of rows) {
      const rule = rules.find((r) => r.key === row.key)!;
      const windowEnd = row.windowStartedAt.getTime() + WINDOW_MS;
      if (windowEnd > now && row.count >= rule.limit) retryAfterMs = Math.max(retryAfterMs, windowEnd - now);
    }
    if (retryAfterMs > 0) {
      throw new AppException(HttpStatus.TOO_MANY_REQUESTS, 'TOO_MANY_ATTEMPTS', 'Too many attempts; try again later', {
        retryAfterSeconds: Math.ceil(retryAfterMs / 1000),
      });
    }
  }

  /** Counts one attempt against each key, starting a new window where the old one ended. */
  async record(keys: string[]): Promise<void> {
    const now = this.clock.now();
    const windowStart = new Date(now.getTime() - WINDOW_MS);
    for (const key of keys) {
      await this.dataSource.query(
        `INSERT INTO auth_throttle (key, count, window_started_at) VALUES ($1, 1, $2)
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN auth_throttle.window_started_at <= $3 THEN 1 ELSE auth_throttle.count + 1 END,
           window_started_at = CASE WHEN auth_throttle.window_started_at <= $3 THEN $2 ELSE auth_throttle.window_started_at END`,
        [key, now, windowStart],
      );
    }
  }

  /** Notes that something happened now under `key` (a successful sign-in from an address). */
  async touch(key: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO auth_throttle (key, count, window_started_at) VALUES ($1, 0, $2)
       ON CONFLICT (key) DO UPDATE SET count = 0, window_started_at = $2`,
      [key, this.clock.now()],
    );
  }

  /** Whether touch(key) was called within the last `withinMs`. */
  async touchedWithin(key: string, withinMs: number): Promise<boolean> {
    const row = await this.dataSource.getRepository(AuthThrottle).findOneBy({ key });
    return !!row && row.windowStartedAt.getTime() > this.clock.now().getTime() - withinMs;
  }

  async clear(keys: string[]): Promise<void> {
    if (keys.length) await this.dataSource.getRepository(AuthThrottle).delete(keys.map((key) => ({ key })));
  }
}
