import { DataSource } from 'typeorm';
import { createTestApp, TestApp } from './helpers/test-app';
import { TEST_DATABASE_URL, withAdminClient } from './helpers/test-database';

/**
 * Takes the database away under a running app: on PostgreSQL by refusing new connections and
 * terminating the open ones, on the embedded database by closing it.
 */
async function takeDatabaseAway(t: TestApp): Promise<() => Promise<void>> {
  if (TEST_DATABASE_URL) {
    const name = t.databaseName!;
    await withAdminClient(async (client) => {
      await client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
    });
    return () =>
      withAdminClient(async (client) => void (await client.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`)));
  }
  const dataSource = t.app.get(DataSource);
  await dataSource.destroy();
  return async () => undefined;
}

describe('when the database goes away', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('/ready answers 503 while /health stays 200, and /ready recovers when it returns', async () => {
    await t.http.get('/ready').expect(200);
    const restore = await takeDatabaseAway(t);
    const res = await t.http.get('/ready').expect(503);
    expect(res.body).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE', requestId: expect.any(String) });
    await t.http.get('/health').expect(200);
    await restore();
    if (TEST_DATABASE_URL) {
      // The pool replaces its dead connections by itself.
      let status = 0;
      for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
        status = (await t.http.get('/ready')).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(status).toBe(200);
    }
  });
});
