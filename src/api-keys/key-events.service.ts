import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { KeyCache } from './key-cache';
import { DEAF_CACHE_TTL_MS, HEARTBEAT_CHANNEL, ListenerHeartbeat, ListenerState } from './listener-heartbeat';

const CHANNEL = 'keyward_key_changes';

export type KeyChange = { keyId: string } | { tenantId: string } | { userId: string } | { configOf: string };

/**
 * Tells every instance that a key (or a tenant's or user's keys) changed, so cached
 * verifications are dropped at once everywhere: locally right away, elsewhere through
 * PostgreSQL LISTEN/NOTIFY. The embedded database serves one process, so there it is local only.
 */
@Injectable()
export class KeyEventsService implements OnModuleInit, OnApplicationShutdown {
  readonly cache: KeyCache;
  private readonly logger = new Logger(KeyEventsService.name);
  private listener?: Client;
  private stopped = false;
  private readonly listeners: ((change: KeyChange | 'all') => void)[] = [];
  private retryTimer?: NodeJS.Timeout;
  private wasDeaf = false;
  /** Proves LISTEN hears; while it does not, caches fall back to DEAF_CACHE_TTL_MS. */
  private readonly heartbeat = new ListenerHeartbeat({
    send: (payload) => this.dataSource.query('SELECT pg_notify($1, $2)', [HEARTBEAT_CHANNEL, payload]).then(() => undefined),
    onDeaf: () => this.deafened(),
    onHearing: () => this.hearingAgain(),
  });

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {
    this.cache = new KeyCache(50_000, config.keyCacheTtlSeconds * 1000);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.databaseUrl || (this.dataSource.options as { url?: string }).url) {
      await this.listen();
      this.heartbeat.start();
    }
  }

  /** What /ready reports; 'unknown' on the embedded database, which has no other instance. */
  get listenerState(): ListenerState {
    return this.heartbeat.state;
  }

  /** How long cached keys and configuration documents may live now. */
  get cacheTtlMs(): number {
    const ttl = this.config.keyCacheTtlSeconds * 1000;
    return this.heartbeat.state === 'deaf' ? Math.min(ttl, DEAF_CACHE_TTL_MS) : ttl;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.heartbeat.stop();
    clearTimeout(this.retryTimer);
    await this.listener?.end().catch(() => undefined);
  }

  async publish(change: KeyChange): Promise<void> {
    this.apply(change);
    if (this.listener || this.config.databaseUrl) {
      await this.dataSource.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(change)]).catch((error) => this.logger.warn({ msg: 'could not notify other instances', err: error }));
    }
  }

  /** Other in-memory caches (the tenant configuration) hear about changes here too. */
  onChange(listener: (change: KeyChange | 'all') => void): void {
    this.listeners.push(listener);
  }

  private apply(change: KeyChange): void {
    if ('keyId' in change) this.cache.forgetKey(change.keyId);
    else if ('tenantId' in change) this.cache.forgetTenant(change.tenantId);
    else if ('userId' in change) this.cache.forgetUser(change.userId);
    for (const listener of this.listeners) listener(change);
  }

  private clearAll(): void {
    this.cache.clear();
    for (const listener of this.listeners) listener('all');
  }

  private deafened(): void {
    this.logger.error({
      msg: 'key change listener hears nothing: its own heartbeat NOTIFY did not come back. Changes made on other instances now reach this one only as cache entries expire (2 s). Behind a transaction-pooling PgBouncer, set DATABASE_LISTEN_URL to a direct connection.',
    });
    this.wasDeaf = true;
    this.cache.limitTtl(DEAF_CACHE_TTL_MS);
    // What was cached may have missed changes; anything cached from now on expires soon.
    this.clearAll();
  }

  private hearingAgain(): void {
    this.cache.limitTtl(undefined);
    if (this.wasDeaf) this.logger.warn({ msg: 'key change listener hears its heartbeat again; caches keep their usual lifetime' });
    this.wasDeaf = false;
  }

  private async listen(): Promise<void> {
    // DATABASE_LISTEN_URL: a direct connection where DATABASE_URL goes through a pooler.
    const url = this.config.databaseListenUrl ?? (this.dataSource.options as { url?: string }).url;
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    const retry = () => {
      if (this.stopped) return;
      this.listener = undefined;
      // While not listening we may have missed changes: start from empty caches.
      this.clearAll();
      this.retryTimer = setTimeout(() => void this.listen(), 1_000);
    };
    client.on('error', (error) => {
      this.logger.warn({ msg: 'key change listener lost its connection; reconnecting', err: error });
      client.end().catch(() => undefined);
      retry();
    });
    client.on('notification', (message) => {
      if (message.channel === HEARTBEAT_CHANNEL) return this.heartbeat.receive(message.payload);
      try {
        this.apply(JSON.parse(message.payload ?? '{}'));
      } catch {
        this.clearAll();
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      await client.query(`LISTEN ${HEARTBEAT_CHANNEL}`);
      this.listener = client;
      this.clearAll();
    } catch (error) {
      this.logger.warn({ msg: 'could not listen for key changes; retrying', err: error });
      await client.end().catch(() => undefined);
      retry();
    }
  }
}
