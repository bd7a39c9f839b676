import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyEventsService } from '../src/api-keys/key-events.service';
import { adminHeaders, createTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';
import { createTestDatabase, describeOnEmbedded, describeOnPostgres, dropTestDatabase } from './helpers/test-database';

/** Instances of one deployment share their secrets; otherwise each would hash keys with its own pepper. */
const SHARED_SECRETS = {
  JWT_SECRET: 'two-instances-jwt-secret-0123456789abcdefghij',
  KEY_PEPPER: 'two-instances-key-pepper-0123456789abcdefghij',
  CONFIG_ENCRYPTION_KEY: 'cd'.repeat(32),
};

/**
 * Several instances share one PostgreSQL database; each keeps its own cache of verified keys.
 * A revocation made on one must reach the others' caches through LISTEN/NOTIFY. The embedded
 * database serves one process only, so there the point is that a second app is refused.
 */
describeOnPostgres('two instances on one PostgreSQL database', () => {
  let databaseName: string | undefined;
  let a: TestApp | undefined;
  let b: TestApp | undefined;

  afterAll(async () => {
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    if (databaseName) await dropTestDatabase(databaseName);
  });

  it('a key revoked on instance A is refused by instance B, which had it cached, once the notification arrives', async () => {
    databaseName = await createTestDatabase();
    a = await createTestApp({ reuseDatabase: { name: databaseName }, env: SHARED_SECRETS });
    b = await createTestApp({ reuseDatabase: { name: databaseName }, env: SHARED_SECRETS });

    const tenant = await createTenant(a);
    const makeKey = async (name: string) => {
      const res = await a!.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: tenant.id, name, scopes: ['keys:write', 'config:read'] }).expect(201);
      return res.body as { apiKey: string; id: string };
    };
    const key1 = await makeKey('revoker');
    const key2 = await makeKey('victim');

    // B verifies key2 once and keeps it in its cache.
    await b.http.get('/config').set('x-api-key', key2.apiKey).expect(200);
    expect(b.app.get(KeyEventsService).cache.size).toBe(1);

    // B hears of the revocation through PostgreSQL NOTIFY; until then it answers from its cache.
    const heard = new Promise<void>((resolve) =>
      b!.app.get(KeyEventsService).onChange((change) => change !== 'all' && 'keyId' in change && change.keyId === key2.id && resolve()),
    );
    await a.http.delete(`/v1/api-keys/${key2.id}`).set('x-api-key', key1.apiKey).expect(204);
    // A itself refuses it at once.
    expect((await a.http.get('/config').set('x-api-key', key2.apiKey).expect(401)).body.code).toBe('KEY_REVOKED');
    await heard;
    expect((await b.http.get('/config').set('x-api-key', key2.apiKey).expect(401)).body.code).toBe('KEY_REVOKED');

    // Only key2 was dropped: key1 still works on B.
    await b.http.get('/config').set('x-api-key', key1.apiKey).expect(200);
  });
});

describeOnEmbedded('two instances on one embedded database directory', () => {
  let dir: string;
  let first: TestApp | undefined;
  let second: TestApp | undefined;
  let tenantId: string | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyward-two-instances-'));
  });
  afterAll(async () => {
    await second?.close().catch(() => undefined);
    await first?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start a second app on a directory that another app has open', async () => {
    const embeddedDir = join(dir, 'pglite');
    first = await createTestApp({ reuseDatabase: { embeddedDir } });
    await first.http.get('/ready').expect(200);

    const attempt = createTestApp({ reuseDatabase: { embeddedDir } }).then((app) => (second = app));
    await expect(attempt).rejects.toThrow(/in use by process/);

    // The refusal left the first app working.
    tenantId = (await createTenant(first)).id;
    await first.http.get('/ready').expect(200);
  });

  it('lets the directory be opened again once the first app has closed, with its data', async () => {
    expect(tenantId).toBeDefined();
    await first!.close();
    first = undefined;
    second = await createTestApp({ reuseDatabase: { embeddedDir: join(dir, 'pglite') } });
    const res = await second.http.get(`/admin/tenants/${tenantId}`).set(adminHeaders).expect(200);
    expect(res.body.id).toBe(tenantId);
  });
});
