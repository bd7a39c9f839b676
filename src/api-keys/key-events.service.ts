import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { KeyCache } from './key-cache';

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

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {
    this.cache = new KeyCache(50_000, config.keyCacheTtlSeconds * 1000);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.databaseUrl || (this.dataSource.options as { url?: string }).url) await this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
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

  private async listen(): Promise<void> {
    const url = (this.dataSource.options as { url?: string }).url ?? this.config.databaseUrl;
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
      try {
        this.apply(JSON.parse(message.payload ?? '{}'));
      } catch {
        this.clearAll();
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.listener = client;
      this.clearAll();
    } catch (error) {
      this.logger.warn({ msg: 'could not listen for key changes; retrying', err: error });
      await client.end().catch(() => undefined);
      retry();
    }
  }
}
