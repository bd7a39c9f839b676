import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { DataSource, DataSourceOptions } from 'typeorm';
import { EmbeddedLock } from './embedded-lock';
import { ENTITIES } from './entities';
import { MIGRATIONS } from '../../migrations';

export interface DatabaseTarget {
  /** PostgreSQL URL; when absent the embedded database is used. */
  url?: string;
  /** Embedded database directory, or `memory://` for a throw-away one. */
  embeddedDir?: string;
  poolSize?: number;
}

/** An initialised DataSource plus whatever must be closed after it. */
export interface OpenDatabase {
  dataSource: DataSource;
  embedded: boolean;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 5_000;
const STATEMENT_TIMEOUT_MS = 15_000;

const common = {
  type: 'postgres',
  entities: ENTITIES,
  migrations: MIGRATIONS,
  migrationsTableName: 'migrations',
  synchronize: false,
  installExtensions: false,
  uuidExtension: 'pgcrypto',
  connectTimeoutMS: CONNECT_TIMEOUT_MS,
} as const;

/**
 * Opens PostgreSQL when a URL is given, otherwise PGlite (real PostgreSQL in WASM) in a
 * directory guarded by a lock file. PGlite has one session, so the pool has one connection:
 * code inside a transaction must use that transaction's EntityManager or it waits forever.
 */
export async function openDatabase(target: DatabaseTarget, runMigrations: boolean): Promise<OpenDatabase> {
  if (target.url) {
    const dataSource = new DataSource({
      ...common,
      url: target.url,
      poolSize: target.poolSize ?? 10,
      extra: { statement_timeout: STATEMENT_TIMEOUT_MS, query_timeout: STATEMENT_TIMEOUT_MS + 1_000 },
    } as DataSourceOptions);
    await dataSource.initialize();
    if (runMigrations) await dataSource.runMigrations({ transaction: 'each' });
    return { dataSource, embedded: false, close: () => destroy(dataSource) };
  }

  const dir = target.embeddedDir ?? 'memory://';
  const inMemory = dir.startsWith('memory://');
  let lock: EmbeddedLock | undefined;
  if (!inMemory) {
    mkdirSync(dir, { recursive: true });
    lock = EmbeddedLock.acquire(`${dir}.lock`);
  }
  let pglite: PGlite | undefined;
  try {
    pglite = await PGlite.create(dir);
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

async function destroy(dataSource: DataSource): Promise<void> {
  if (dataSource.isInitialized) await dataSource.destroy();
}
