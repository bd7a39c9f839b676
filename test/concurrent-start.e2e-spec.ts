import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ServiceProcess, startService } from './helpers/service-process';
import { databaseUrl, TEST_DATABASE_URL, withAdminClient } from './helpers/test-database';

const SHARED = {
  ADMIN_TOKEN: 'concurrent-start-admin-token-0123456789abcdef',
  JWT_SECRET: 'concurrent-start-jwt-secret-0123456789abcdefghij',
  KEY_PEPPER: 'concurrent-start-key-pepper-0123456789abcdefghij',
  CONFIG_ENCRYPTION_KEY: 'cd'.repeat(32),
};
const ROOT = join(__dirname, '..');

/** A database with nothing in it: no migrations table, no schema (not the migrated template). */
async function emptyDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `kw_empty_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE ${name}`));
  return {
    url: databaseUrl(name),
    drop: () =>
      withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

async function appliedMigrations(url: string): Promise<string[]> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ name: string }>('SELECT name FROM migrations ORDER BY id')).rows.map(
      (row) => row.name,
    );
  } finally {
    await client.end();
  }
}

const postgresOnly = TEST_DATABASE_URL ? describe : describe.skip;
const reason = TEST_DATABASE_URL
  ? ''
  : ' (skipped: needs TEST_DATABASE_URL, the embedded database has a lock file instead)';

postgresOnly(`replicas starting at once on an empty PostgreSQL database${reason}`, () => {
  for (const round of [1, 2, 3]) {
    it(`both come up healthy and the schema is migrated once (round ${round})`, async () => {
      const database = await emptyDatabase();
      const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'keyward-concurrent-')));
      let services: PromiseSettledResult<ServiceProcess>[] = [];
      try {
        services = await Promise.allSettled(
          dirs.map((dir) => startService({ ...SHARED, DATABASE_URL: database.url, DATA_DIR: dir })),
        );
        expect(services.map((s) => (s.status === 'rejected' ? String(s.reason) : 'started'))).toEqual([
          'started',
          'started',
        ]);
        for (const service of services as PromiseFulfilledResult<ServiceProcess>[]) {
          expect((await fetch(`${service.value.url}/ready`)).status).toBe(200);
        }
        const names = await appliedMigrations(database.url);
        expect(new Set(names).size).toBe(names.length);
      } finally {
        for (const service of services) if (service.status === 'fulfilled') await service.value.stop();
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
        await database.drop();
      }
    });
  }

  it('two `migration:run` at once both succeed, and only one applies the migrations', async () => {
    const database = await emptyDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), 'keyward-migrate-'));
    const run = () =>
      promisify(execFile)(process.execPath, [join(ROOT, 'dist', 'src', 'database', 'migrate.js'), 'run'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, DATABASE_URL: database.url, NODE_ENV: 'development', DATA_DIR: dataDir },
      });
    try {
      const outputs = (await Promise.all([run(), run()])).map((result) => result.stdout.trim());
      expect(outputs.filter((out) => out.startsWith('applied: '))).toHaveLength(1);
      expect(outputs).toContain('no pending migrations');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    }
  });
});
