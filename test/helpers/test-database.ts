import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** PostgreSQL to test against; unset means each test file gets an in-memory PGlite. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

export const TEMPLATE_DATABASE = process.env.KEYWARD_TEMPLATE_DATABASE ?? 'keyward_template';

export function databaseUrl(name: string): string {
  const url = new URL(TEST_DATABASE_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdminClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database copied from the migrated template (fast, and isolated per test file). */
export async function createTestDatabase(): Promise<string> {
  const name = `kw_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdminClient(async (client) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
        return;
      } catch (error) {
        // Two copies started at the same instant can collide on the template; retry briefly.
        if (attempt >= 10 || !/being accessed by other users/.test((error as Error).message)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  });
  return name;
}

export async function dropTestDatabase(name: string): Promise<void> {
  await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/**
 * A database that outlives one app, for tests that restart the service or run two of it:
 * a PostgreSQL database of its own, or an embedded directory. `drop()` removes it.
 */
export async function sharedDatabase(): Promise<{
  reuseDatabase: { name?: string; embeddedDir?: string };
  drop(): Promise<void>;
}> {
  if (TEST_DATABASE_URL) {
    const name = await createTestDatabase();
    return { reuseDatabase: { name }, drop: () => dropTestDatabase(name) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'keyward-shared-'));
  return {
    reuseDatabase: { embeddedDir: join(dir, 'pglite') },
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Suites that only make sense on one kind of database. On the other kind they are shown as
 * skipped, with the reason in their name, rather than missing; CI runs both kinds.
 */
export function describeOnPostgres(name: string, body: () => void): void {
  if (TEST_DATABASE_URL) describe(name, body);
  else describe.skip(`${name} [PostgreSQL only: runs when TEST_DATABASE_URL is set]`, body);
}

export function describeOnEmbedded(name: string, body: () => void): void {
  if (TEST_DATABASE_URL) describe.skip(`${name} [embedded database only: runs when TEST_DATABASE_URL is unset]`, body);
  else describe(name, body);
}
