import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Type } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import TestAgent from 'supertest/lib/agent';
import { createApp } from '../../src/app.factory';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { createLogger } from '../../src/common/logging/logger';
import { DatabaseTarget } from '../../src/database/data-source.factory';
import { createTestDatabase, databaseUrl, dropTestDatabase, TEST_DATABASE_URL } from './test-database';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklmnop';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  http: TestAgent;
  /** Every log line written so far, raw JSON text. */
  logs: string[];
  /** The database this app uses: a PostgreSQL database name, or undefined for PGlite. */
  databaseName?: string;
  /** http://127.0.0.1:PORT when started with `listen`. */
  url?: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string | undefined>;
  /** Extra modules for tests that need probe routes. */
  imports?: Type[];
  /**
   * Reuse a database instead of making a fresh one: a PostgreSQL database name, or an
   * embedded directory. For tests that restart the app on the same data.
   */
  reuseDatabase?: { name?: string; embeddedDir?: string };
  /** Listen on a real port (for clients that need their own source address). */
  listen?: boolean;
  /** With `listen`: this port rather than any free one (when PUBLIC_URL must name it). */
  port?: number;
}

/** Boots the whole application in-process on its own database. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    LOG_LEVEL: 'info',
    ...options.env,
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: config.logLevel, destination });

  let databaseName: string | undefined;
  let database: DatabaseTarget = { embeddedDir: options.reuseDatabase?.embeddedDir ?? 'memory://' };
  const ownsDatabase = !options.reuseDatabase;
  if (TEST_DATABASE_URL) {
    databaseName = options.reuseDatabase?.name ?? (await createTestDatabase());
    database = { url: databaseUrl(databaseName), poolSize: 4 };
  }
  const app = await createApp(config, { logger, database, imports: options.imports });
  if (options.listen) await app.listen({ port: options.port ?? 0, host: '0.0.0.0' });
  else await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    config,
    http: request(app.getHttpServer()),
    url: options.listen ? `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}` : undefined,
    logs,
    databaseName,
    async close() {
      await app.close();
      if (databaseName && ownsDatabase) await dropTestDatabase(databaseName);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A TCP port nobody listens on right now, away from the ports that listen(0) hands out. */
export { freePort } from '../support/service-process';
