import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../migrations';
import { openDatabase } from '../src/database/data-source.factory';
import { Tenant } from '../src/tenants/tenant.entity';
import { runToExit, startService } from './helpers/service-process';

/** These tests run the real service as a separate process, as `npm start` does. */
describe('the service process', () => {
  const prodSecrets = {
    JWT_SECRET: 'j'.repeat(40),
    KEY_PEPPER: 'p'.repeat(40),
    CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32),
  };
  const freshDir = () => mkdtempSync(join(tmpdir(), 'keyward-proc-'));

  it('exits with 1 and one line naming the variable when the configuration is bad', async () => {
    const result = await runToExit({ DATA_DIR: freshDir(), PORT: 'eighty' });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Invalid configuration: PORT /);
  });

  it('refuses a short ADMIN_TOKEN', async () => {
    const result = await runToExit({ DATA_DIR: freshDir(), ADMIN_TOKEN: 'too-short' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('Invalid configuration: ADMIN_TOKEN must be at least 32 characters');
  });

  it('refuses to start in production without secrets, naming them', async () => {
    const result = await runToExit({ NODE_ENV: 'production', DATA_DIR: freshDir() });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'Invalid configuration: JWT_SECRET, KEY_PEPPER, CONFIG_ENCRYPTION_KEY must be set when NODE_ENV=production',
    );
  });

  it('refuses to start in production with a placeholder secret', async () => {
    const result = await runToExit({
      NODE_ENV: 'production',
      DATA_DIR: freshDir(),
      ...prodSecrets,
      JWT_SECRET: 'change-me-jwt-secret-at-least-32-characters',
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'Invalid configuration: JWT_SECRET still has the placeholder value from .env.example',
    );
  });

  it('starts on a fresh embedded database, keeps data across a restart and stops cleanly on SIGTERM', async () => {
    const dataDir = freshDir();
    const first = await startService({ DATA_DIR: dataDir });
    const res = await fetch(`${first.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(true);
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(true);

    // A second process on the same directory is refused with a clear message.
    const second = await runToExit({ DATA_DIR: dataDir });
    expect(second.code).toBe(1);
    expect(second.stdout + second.stderr).toMatch(/is in use by process \d+/);

    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.output()).toMatch(/"msg":"database closed"/);
    expect(first.output()).toMatch(/"msg":"shutdown complete"/);
    // Once ready it says where to go: a JSON log line and a plain line for a person.
    expect(first.output()).toContain(
      `Keyward is ready: dashboard ${first.url}/login, API documentation ${first.url}/docs\n`,
    );
    expect(first.output()).toContain(`"dashboardUrl":"${first.url}/login","docsUrl":"${first.url}/docs"`);
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(false);

    // Write a row while the service is down, through the same database code.
    const database = await openDatabase({ embeddedDir: join(dataDir, 'pglite') }, false);
    await database.dataSource.getRepository(Tenant).insert({ name: 'Kept', slug: 'kept' });
    await database.close();

    const again = await startService({ DATA_DIR: dataDir });
    expect((await fetch(`${again.url}/ready`)).status).toBe(200);
    expect(await again.stop('SIGINT')).toBe(0);

    const reopened = await openDatabase({ embeddedDir: join(dataDir, 'pglite') }, false);
    try {
      expect(await reopened.dataSource.getRepository(Tenant).findOneBy({ slug: 'kept' })).toMatchObject({
        name: 'Kept',
      });
      const migrations = await reopened.dataSource.query('SELECT name FROM migrations');
      expect(migrations).toHaveLength(MIGRATIONS.length);
    } finally {
      await reopened.close();
    }
  });
});
