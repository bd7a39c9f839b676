import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { RequestSeries } from './request-series';

/** The parts of a `pg` Pool we read at scrape time. */
interface PoolStats {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

export type LoginResult = 'success' | 'failure' | 'throttled';

/**
 * Prometheus metrics on a registry of their own (never the global one, so two apps in one
 * process do not share series). Hot-path counts (key verifications, cache hits) are plain
 * numbers read at scrape time, and so are the per-request count and latency (RequestSeries).
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new RequestSeries([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  private readonly rateLimited: Counter<'limit'>;
  private readonly logins: Counter<'result'>;
  /** Key verifications by result (`valid` or a denial code). */
  private readonly verifications: Record<string, number> = {};
  private cacheHits = 0;
  private cacheMisses = 0;

  constructor(private readonly dataSource: DataSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const requests = this.requests;
    new Counter({
      name: 'keyward_http_requests_total',
      help: 'HTTP requests by route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
      collect() {
        this.reset();
        for (const { labels, count } of requests.counts()) this.inc(labels, count);
      },
    });
    this.registry.registerMetric(
      requests.histogram('keyward_http_request_duration_seconds', 'HTTP request latency by route pattern and status'),
    );
    this.rateLimited = new Counter({
      name: 'keyward_rate_limit_rejections_total',
      help: 'Requests refused by a rate limit or quota',
      labelNames: ['limit'],
      registers,
    });
    this.logins = new Counter({
      name: 'keyward_logins_total',
      help: 'Sign-in attempts by result',
      labelNames: ['result'],
      registers,
    });

    const verifications = this.verifications;
    new Counter({
      name: 'keyward_key_verifications_total',
      help: 'API key verifications by result code',
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        for (const [result, count] of Object.entries(verifications)) this.inc({ result }, count);
      },
    });
    const cache = () => ({ hits: this.cacheHits, misses: this.cacheMisses });
    new Counter({
      name: 'keyward_key_cache_lookups_total',
      help: 'API key cache lookups by outcome (hit ratio = hit / (hit + miss))',
      labelNames: ['outcome'],
      registers,
      collect() {
        const { hits, misses } = cache();
        this.reset();
        this.inc({ outcome: 'hit' }, hits);
        this.inc({ outcome: 'miss' }, misses);
      },
    });
    const pool = () => this.poolStats();
    new Gauge({
      name: 'keyward_db_pool_connections',
      help: 'Database pool connections by state',
      labelNames: ['state'],
      registers,
      collect() {
        const stats = pool();
        if (!stats) return;
        this.set({ state: 'in_use' }, stats.totalCount - stats.idleCount);
        this.set({ state: 'idle' }, stats.idleCount);
      },
    });
    new Gauge({
      name: 'keyward_db_pool_waiting',
      help: 'Queries waiting for a database connection',
      registers,
      collect() {
        const stats = pool();
        if (stats) this.set(stats.waitingCount);
      },
    });
  }

  observeRequest(method: string, route: string, status: number, elapsedMs: number): void {
    this.requests.observe(method, route, status, elapsedMs / 1000);
  }

  keyVerified(result: string): void {
    this.verifications[result] = (this.verifications[result] ?? 0) + 1;
  }

  keyCacheLookup(hit: boolean): void {
    if (hit) this.cacheHits++;
    else this.cacheMisses++;
  }

  rateLimitRejected(limit: 'key' | 'quota' | 'login'): void {
    this.rateLimited.inc({ limit });
  }

  login(result: LoginResult): void {
    this.logins.inc({ result });
  }

  /** The TypeORM postgres driver's pg Pool (PGlite is handed to it as a pool of one too). */
  private poolStats(): PoolStats | undefined {
    const master = (this.dataSource.driver as unknown as { master?: Partial<PoolStats> }).master;
    return typeof master?.totalCount === 'number' ? (master as PoolStats) : undefined;
  }
}
