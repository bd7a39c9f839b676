import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppConfig } from '../config/app-config';
import { MaybePromise } from '../common/maybe-promise';
import { MemoryWindows } from './memory-windows';
import type { RateLimitResult } from './rate-limit.types';

export type { RateLimitResult } from './rate-limit.types';

/** Distinct {limit, window} pairs kept; each has its own limiter. */
const MAX_LIMITERS = 1_000;

/**
 * Fixed-window counters. In memory by default, answered synchronously (see MemoryWindows); with
 * REDIS_URL the counts live in Redis, through rate-limiter-flexible, so every instance shares
 * them. A Redis that cannot be reached falls back to each limiter's in-memory insurance
 * (per-instance limits): never unlimited, never everyone denied. Commands are not queued while
 * Redis is down, so a dead Redis adds no waiting.
 */
@Injectable()
export class RateLimitService implements OnApplicationShutdown {
  private readonly logger = new Logger(RateLimitService.name);
  private readonly memory = new MemoryWindows();
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  private readonly redis?: Redis;
  private redisDown = false;

  constructor(private readonly config: AppConfig) {
    if (config.redisUrl) {
      this.redis = new Redis(config.redisUrl, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 1_000,
        commandTimeout: 500,
      });
      // Logged once per outage, not per request.
      this.redis.on('error', (error) => {
        if (this.redisDown) return;
        this.redisDown = true;
        this.logger.warn({ msg: 'Redis unreachable; rate limits fall back to this instance’s memory', err: error });
      });
      this.redis.on('ready', () => {
        if (!this.redisDown) return;
        this.redisDown = false;
        this.logger.log({ msg: 'Redis reachable again; rate limits are shared' });
      });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis?.disconnect();
  }

  /**
   * Counts `cost` events (one by default) under `name` against `limit` per `windowSeconds`;
   * synchronous without Redis. Every instance counts a name in the same place (Redis, when set),
   * so a limit shared by several keys (an identity's) is as exact as a key's own.
   */
  consume(name: string, limit: number, windowSeconds: number, cost = 1): MaybePromise<RateLimitResult> {
    return this.redis
      ? this.consumeShared(name, limit, windowSeconds, cost)
      : this.memory.consume(name, limit, windowSeconds, Date.now(), cost);
  }

  private async consumeShared(
    name: string,
    limit: number,
    windowSeconds: number,
    cost: number,
  ): Promise<RateLimitResult> {
    try {
      return this.result(limit, await this.limiter(limit, windowSeconds).consume(name, cost), true);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return this.result(limit, rejection, false);
      // Neither store answered (should not happen: memory always does). Deny this one request only.
      this.logger.error({ msg: 'rate limiter failed', err: rejection });
      return { allowed: false, limit, remaining: 0, resetSeconds: 1 };
    }
  }

  private result(limit: number, res: RateLimiterRes, allowed: boolean): RateLimitResult {
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - res.consumedPoints),
      resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
    };
  }

  private limiter(points: number, duration: number): RateLimiterAbstract {
    const id = `${points}/${duration}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      // Counters are per setting: a changed limit starts afresh.
      const keyPrefix = `${this.config.redisKeyPrefix}:rl:${id}`;
      const insuranceLimiter = new RateLimiterMemory({ points, duration, keyPrefix });
      limiter = new RateLimiterRedis({
        storeClient: this.redis,
        points,
        duration,
        keyPrefix,
        insuranceLimiter,
        rejectIfRedisNotReady: true,
      });
      if (this.limiters.size >= MAX_LIMITERS) this.limiters.clear();
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}
