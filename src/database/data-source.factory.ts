import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { DataSource, DataSourceOptions } from 'typeorm';
import { secureDataDir } from '../config/data-dir';
import { EmbeddedLock } from './embedded-lock';
import { ENTITIES } from './entities';
import { runMigrationsLocked } from './migration-lock';
import { MIGRATIONS } from '../../migrations';

export interface DatabaseTarget {
  /** PostgreSQL URL; when absent the embedded database is used. */
  url?: string;
  /** Embedded database directory, or `memory://` for a throw-away one. */
  embeddedDir?: string;
  poolSize?: number;
  /** Off for migrations: a schema change may run longer than any request should wait. */
  requestTimeouts?: boolean;
}

/** What the hot path needs of a pg Pool: a query, by name when it is a prepared statement. */
export interface DirectPool {
  query<Row>(query: { name?: string; text: string; values: unknown[] }): Promise<{ rows: Row[] }>;
}

/** The pg Pool under each PostgreSQL DataSource (the embedded database has none). */
const directPools = new WeakMap<DataSource, DirectPool>();

/**
 * The pg Pool a PostgreSQL DataSource queries through, for the one query on every key-cache
 * miss (the ORM's query runner costs more than the query there); undefined for the embedded
 * database, whose single connection is shared through the ORM and must stay so.
 */
export function directPoolOf(dataSource: DataSource): DirectPool | undefined {
  return directPools.get(dataSource);
}

/** An initialised DataSource plus whatever must be closed after it. */
export interface OpenDatabase {
  dataSource: DataSource;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * A request must fail with 503 within 5 s when PostgreSQL hangs (postmaster stopped, network
 * gone) rather than wait: waiting for a pooled connection or a new one is bounded by
 * CONNECT_TIMEOUT_MS, a statement by the server's statement_timeout, and a server that does
 * not answer at all by the client's query_timeout. Together at most 5 s.
 * statement_timeout is set with SET on each new connection, not as a startup parameter:
 * PgBouncer refuses unknown startup parameters ("unsupported startup parameter").
 */
const CONNECT_TIMEOUT_MS = 1_500;
/** The embedded database's one connection is shared by every request: waiting for it is normal. */
const EMBEDDED_CONNECT_TIMEOUT_MS = 5_000;
const STATEMENT_TIMEOUT_MS = 3_000;
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 500;

const common = {
  type: 'postgres',
  entities: ENTITIES,
  migrations: MIGRATIONS,
  migrationsTableName: 'migrations',
  synchronize: false,
  installExtensions: false,
  uuidExtension: 'pgcrypto',
  connectTimeoutMS: EMBEDDED_CONNECT_TIMEOUT_MS,
} as const;

/**
 * Opens PostgreSQL when a URL is given, otherwise PGlite (real PostgreSQL in WASM) in a
 * directory guarded by a lock file. PGlite has one session, so the pool has one connection:
 * code inside a transaction must use that transaction's EntityManager or it waits forever.
 */
export async function openDatabase(target: DatabaseTarget, runMigrations: boolean): Promise<OpenDatabase> {
  if (target.url) {
    if (runMigrations && target.requestTimeouts !== false) {
      const migrator = await openDatabase({ url: target.url, poolSize: 1, requestTimeouts: false }, true);
      await migrator.close();
      runMigrations = false;
    }
    const timeouts =
      target.requestTimeouts === false ? {} : { query_timeout: QUERY_TIMEOUT_MS, onConnect: setStatementTimeout };
    const dataSource = new DataSource({
      ...common,
      url: target.url,
      poolSize: target.poolSize ?? 10,
      connectTimeoutMS: CONNECT_TIMEOUT_MS,
      extra: timeouts,
    } as DataSourceOptions);
    await dataSource.initialize();
    if (target.requestTimeouts !== false) closeConnectionsThatTimeOut(dataSource);
    directPools.set(dataSource, (dataSource.driver as unknown as { master: DirectPool }).master);
    const database = { dataSource, embedded: false, close: () => destroy(dataSource) };
    if (runMigrations) await migrate(database);
    return database;
  }

  const dir = target.embeddedDir ?? 'memory://';
  const inMemory = dir.startsWith('memory://');
  let lock: EmbeddedLock | undefined;
  if (!inMemory) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    lock = EmbeddedLock.acquire(`${dir}.lock`);
  }
  let pglite: PGlite | undefined;
  try {
    pglite = await PGlite.create(dir);
    // A new database's files come from PGlite's initdb as 0666 whatever the umask; what it
    // writes later follows the umask (0077 in the entry points). Owner-only from here on.
    secureDataDir(dir);
    const dataSource = new DataSource({ ...common, poolSize: 1, extra: createPgConfig(pglite) } as DataSourceOptions);
    await dataSource.initialize();
    if (runMigrations) await dataSource.runMigrations({ transaction: 'each' });
    const opened = pglite;
    return {
      dataSource,
      embedded: true,
      close: async () => {
        await destroy(dataSource);
        await opened.close();
        lock?.release();
      },
    };
  } catch (error) {
    await pglite?.close().catch(() => undefined);
    lock?.release();
    throw error;
  }
}

/**
 * pg-pool's onConnect hook: runs before the connection serves anything, and a failure ends
 * the connection and fails the caller waiting for it (no connection without the timeout).
 * Behind a transaction-pooling PgBouncer a server connection may serve a client that never
 * ran this SET: there the role's default (ALTER ROLE ... SET statement_timeout) is the
 * reliable bound, and query_timeout still bounds every request on the client side.
 */
async function setStatementTimeout(client: { query(sql: string): Promise<unknown> }): Promise<void> {
  await client.query(`SET statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
}

/**
 * Applies pending migrations: on PostgreSQL under an advisory lock (replicas share the
 * database); the embedded database is already single-process through its lock file.
 */
export function migrate(database: OpenDatabase) {
  return database.embedded
    ? database.dataSource.runMigrations({ transaction: 'each' })
    : runMigrationsLocked(database.dataSource);
}

type PgClient = { query: (...args: unknown[]) => unknown; connection?: { stream?: { destroy(): void } } };

/**
 * A query the server never answered (query_timeout) leaves its connection busy with it: the
 * transaction's ROLLBACK would queue behind it and wait as long again. Closing the connection
 * fails what is queued at once, and the pool replaces it.
 */
function closeConnectionsThatTimeOut(dataSource: DataSource): void {
  const pool = (
    dataSource.driver as unknown as { master: { on(event: 'acquire', listener: (client: PgClient) => void): void } }
  ).master;
  const watched = new WeakSet<PgClient>();
  pool.on('acquire', (client) => {
    if (watched.has(client)) return;
    watched.add(client);
    const query = client.query.bind(client);
    client.query = (...args: unknown[]) => {
      const result = query(...args);
      if (result instanceof Promise) {
        result.catch((error: Error) => {
          if (/query read timeout/i.test(error?.message)) client.connection?.stream?.destroy();
        });
      }
      return result;
    };
  });
}

async function destroy(dataSource: DataSource): Promise<void> {
  if (dataSource.isInitialized) await dataSource.destroy();
}
