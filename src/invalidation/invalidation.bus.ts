import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { DEAF_CACHE_TTL_MS, HEARTBEAT_CHANNEL, ListenerHeartbeat, ListenerState } from './listener-heartbeat';

/**
 * What changed, so in-memory shortcuts built from it must go. The field names are the ones the
 * previous release sent (`keyId`, `tenantId`, `userId`), so instances of both hear each other
 * during a rolling upgrade.
 */
export type Invalidation =
  /** One API key: revoked, rotated, disabled, changed. */
  | { kind: 'key'; keyId: string }
  /** A tenant itself (suspension, settings): its keys, sessions and configuration. */
  | { kind: 'tenant'; tenantId: string }
  /** A person: disabled, role changed, password changed; their keys and sessions. */
  | { kind: 'user'; userId: string }
  /** An identity of a tenant's own system: its meta, shared limits or quota changed, or it was deleted. */
  | { kind: 'identity'; identityId: string }
  /** The configuration entries of a tenant. */
  | { kind: 'config'; tenantId: string }
  /** One session: signed out or revoked. */
  | { kind: 'session'; sessionId: string };

/** A listener also hears `all`: changes may have been missed (no connection), so drop everything. */
export type InvalidationListener = (change: Invalidation | { kind: 'all' }) => void;

/** Kept from the first release, when only keys were announced, so older instances still hear. */
const CHANNEL = 'keyward_key_changes';

const ID_FIELD: Record<Invalidation['kind'], string> = {
  key: 'keyId',
  tenant: 'tenantId',
  user: 'userId',
  identity: 'identityId',
  config: 'tenantId',
  session: 'sessionId',
};

/** A notification payload as sent by `publish`, or undefined for anything else. */
export function parseInvalidation(payload: string | undefined): Invalidation | undefined {
  try {
    const message: unknown = JSON.parse(payload ?? '');
    if (typeof message !== 'object' || message === null) return undefined;
    const { kind } = message as { kind?: unknown };
    if (typeof kind !== 'string' || !Object.hasOwn(ID_FIELD, kind)) return undefined;
    const id = (message as Record<string, unknown>)[ID_FIELD[kind as Invalidation['kind']]];
    return typeof id === 'string' ? (message as Invalidation) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cache-invalidation bus: whoever changes something publishes it (after its transaction
 * has committed), and every in-memory cache subscribes. Delivered at once on this instance and,
 * through PostgreSQL LISTEN/NOTIFY, on every other. While the listening connection is down,
 * changes may be missed: every cache is cleared when it is lost and again when it is back. A
 * listener can also go deaf without losing its connection (LISTEN through a transaction-pooling
 * PgBouncer): a heartbeat NOTIFY that must come back tells, and while it does not, caches keep
 * entries at most DEAF_CACHE_TTL_MS (`cacheTtl`) and /ready says so. The embedded database
 * serves one process, so there the bus is local only.
 */
@Injectable()
export class InvalidationBus implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(InvalidationBus.name);
  private readonly listeners: InvalidationListener[] = [];
  private connection?: Client;
  private stopped = false;
  private retryTimer?: NodeJS.Timeout;
  private wasDeaf = false;
  private readonly heartbeat = new ListenerHeartbeat({
    send: (payload) =>
      this.dataSource.query('SELECT pg_notify($1, $2)', [HEARTBEAT_CHANNEL, payload]).then(() => undefined),
    onDeaf: () => this.deafened(),
    onHearing: () => this.hearingAgain(),
  });

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.databaseUrl) return;
    await this.listen();
    this.heartbeat.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.heartbeat.stop();
    clearTimeout(this.retryTimer);
    await this.connection?.end().catch(() => undefined);
  }

  subscribe(listener: InvalidationListener): void {
    this.listeners.push(listener);
  }

  /** Call once the change is committed: an instance that hears earlier could cache the old row again. */
  async publish(change: Invalidation): Promise<void> {
    this.deliver(change);
    if (!this.databaseUrl) return;
    await this.dataSource
      .query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(change)])
      .catch((error) => this.logger.warn({ msg: 'could not notify other instances of a change', err: error }));
  }

  /** What /ready reports; 'unknown' on the embedded database, which has no other instance. */
  get listenerState(): ListenerState {
    return this.heartbeat.state;
  }

  /** How long a cache may keep an entry it would keep `ttlMs`: less while changes from elsewhere are not heard. */
  cacheTtl(ttlMs: number): number {
    return this.heartbeat.state === 'deaf' ? Math.min(ttlMs, DEAF_CACHE_TTL_MS) : ttlMs;
  }

  private deafened(): void {
    this.logger.error({
      msg: `the invalidation listener hears nothing: its own heartbeat NOTIFY did not come back. Changes made on other instances now reach this one only as cache entries expire (${DEAF_CACHE_TTL_MS / 1000} s). Behind a transaction-pooling PgBouncer, set DATABASE_LISTEN_URL to a direct connection.`,
    });
    this.wasDeaf = true;
    // What was cached may have missed changes; anything cached from now on expires soon.
    this.deliver({ kind: 'all' });
  }

  private hearingAgain(): void {
    if (this.wasDeaf)
      this.logger.warn({
        msg: 'the invalidation listener hears its heartbeat again; caches keep their usual lifetime',
      });
    this.wasDeaf = false;
  }

  private get databaseUrl(): string | undefined {
    return (this.dataSource.options as { url?: string }).url ?? this.config.databaseUrl;
  }

  private deliver(change: Invalidation | { kind: 'all' }): void {
    for (const listener of this.listeners) listener(change);
  }

  private async listen(): Promise<void> {
    // DATABASE_LISTEN_URL: a direct connection where DATABASE_URL goes through a pooler.
    const client = new Client({
      connectionString: this.config.databaseListenUrl ?? this.databaseUrl,
      connectionTimeoutMillis: 5_000,
    });
    const retry = () => {
      if (this.stopped) return;
      this.connection = undefined;
      // While not listening we may have missed changes: start from empty caches.
      this.deliver({ kind: 'all' });
      this.retryTimer = setTimeout(() => void this.listen(), 1_000);
    };
    client.on('error', (error) => {
      this.logger.warn({ msg: 'the invalidation listener lost its connection; reconnecting', err: error });
      client.end().catch(() => undefined);
      retry();
    });
    // A message this release does not understand (or an older one's) may have meant anything.
    client.on('notification', (message) => {
      if (message.channel === HEARTBEAT_CHANNEL) return this.heartbeat.receive(message.payload);
      this.deliver(parseInvalidation(message.payload) ?? { kind: 'all' });
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      await client.query(`LISTEN ${HEARTBEAT_CHANNEL}`);
      this.connection = client;
      this.deliver({ kind: 'all' });
    } catch (error) {
      this.logger.warn({ msg: 'could not listen for changes on other instances; retrying', err: error });
      await client.end().catch(() => undefined);
      retry();
    }
  }
}
