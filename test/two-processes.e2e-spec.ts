import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceProcess, call, runToExit, serviceDatabase, startService } from './helpers/service-process';
import { describeOnEmbedded, describeOnPostgres } from './helpers/test-database';

const ADMIN_TOKEN = 'two-processes-admin-token-0123456789abcdef';
/** Instances of one deployment share their secrets (README, "Several instances"). */
const SHARED = {
  ADMIN_TOKEN,
  JWT_SECRET: 'two-processes-jwt-secret-0123456789abcdefghij',
  KEY_PEPPER: 'two-processes-key-pepper-0123456789abcdefghij',
  CONFIG_ENCRYPTION_KEY: 'ef'.repeat(32),
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeOnPostgres('two service processes on one PostgreSQL database', () => {
  let database: Awaited<ReturnType<typeof serviceDatabase>>;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let dataDirOfB: string;

  beforeAll(async () => {
    dataDirOfB = mkdtempSync(join(tmpdir(), 'keyward-b-'));
    database = await serviceDatabase();
    // Not the same DATA_DIR: instances share the database, nothing on disk.
    a = await startService({ ...SHARED, ...database.env });
    b = await startService({ ...SHARED, DATABASE_URL: database.env.DATABASE_URL, DATA_DIR: dataDirOfB });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
    rmSync(dataDirOfB, { recursive: true, force: true });
  });

  it('signs in on A and works on B; a key made on A reads /config on B; revoked on B, A refuses it too', async () => {
    const admin = { 'x-admin-token': ADMIN_TOKEN };
    const tenant = (
      await call(a.url, '/admin/tenants', { method: 'POST', headers: admin, body: { name: 'Two processes' } })
    ).body;
    const owner = { email: 'owner@two-processes.example', password: 'violet tractor umbrella two' };
    expect(
      (
        await call(b.url, `/admin/tenants/${tenant.id}/users`, {
          method: 'POST',
          headers: admin,
          body: { ...owner, role: 'owner' },
        })
      ).status,
    ).toBe(201);

    const signedIn = await call(a.url, '/auth/login', { method: 'POST', body: owner });
    expect(signedIn.status).toBe(200);
    const bearer = { authorization: `Bearer ${signedIn.body.accessToken}` };
    expect(await call(b.url, '/auth/me', { headers: bearer })).toMatchObject({
      status: 200,
      body: { user: { email: owner.email } },
    });
    // The refresh token from A is rotated on B.
    expect(
      (await call(b.url, '/auth/refresh', { method: 'POST', body: { refreshToken: signedIn.body.refreshToken } }))
        .status,
    ).toBe(200);

    const key = (
      await call(a.url, '/auth/api-key/generate', {
        method: 'POST',
        headers: bearer,
        body: { name: 'shared', scopes: ['config:read'] },
      })
    ).body;
    expect(
      (await call(a.url, '/v1/config/entries/region', { method: 'PUT', headers: bearer, body: { value: 'eu-west' } }))
        .status,
    ).toBe(200);
    expect(await call(b.url, '/config', { headers: { 'x-api-key': key.apiKey } })).toEqual({
      status: 200,
      body: { region: 'eu-west' },
    });
    // A caches the key too, so the revocation must reach A's cache.
    expect((await call(a.url, '/config', { headers: { 'x-api-key': key.apiKey } })).status).toBe(200);

    expect((await call(b.url, `/v1/api-keys/${key.id}`, { method: 'DELETE', headers: bearer })).status).toBe(204);
    // The revocation reaches A through PostgreSQL NOTIFY, which a separate process cannot be
    // watched for: ask A until it refuses (the test's timeout bounds the wait). The in-process
    // two-instances e2e awaits the notification itself.
    let last = await call(a.url, '/config', { headers: { 'x-api-key': key.apiKey } });
    while (last.status === 200) {
      await sleep(50);
      last = await call(a.url, '/config', { headers: { 'x-api-key': key.apiKey } });
    }
    expect({ status: last.status, code: last.body?.code }).toEqual({ status: 401, code: 'KEY_REVOKED' });
  });

  it('a role changed on A changes the verify answer on B within a second', async () => {
    const admin = { 'x-admin-token': ADMIN_TOKEN };
    const tenant = (await call(a.url, '/admin/tenants', { method: 'POST', headers: admin, body: { name: 'Roles' } }))
      .body;
    const owner = { email: 'owner@roles-two-processes.example', password: 'violet tractor umbrella roles' };
    await call(a.url, `/admin/tenants/${tenant.id}/users`, {
      method: 'POST',
      headers: admin,
      body: { ...owner, role: 'owner' },
    });
    const bearer = {
      authorization: `Bearer ${(await call(a.url, '/auth/login', { method: 'POST', body: owner })).body.accessToken}`,
    };
    const onA = (path: string, method: string, body: unknown) => call(a.url, path, { method, headers: bearer, body });
    for (const name of ['orders:read', 'orders:write'])
      expect((await onA('/v1/permissions', 'POST', { name })).status).toBe(201);
    expect((await onA('/v1/roles', 'POST', { name: 'support', permissions: ['orders:read'] })).status).toBe(201);
    const verifier = (await onA('/v1/api-keys', 'POST', { name: 'service', scopes: ['keys:verify'] })).body.apiKey;
    const key = (await onA('/v1/api-keys', 'POST', { name: 'support', scopes: ['keys:read'], roles: ['support'] }))
      .body;
    const verifyOnB = async (permissions: string) =>
      (
        await call(b.url, '/v1/keys/verify', {
          method: 'POST',
          headers: { 'x-api-key': verifier },
          body: { key: key.apiKey, permissions },
        })
      ).body;

    expect(await verifyOnB('orders:read')).toMatchObject({
      valid: true,
      roles: ['support'],
      permissions: ['orders:read'],
    });
    // B has the key cached now, with what its role held then.
    expect(await verifyOnB('orders:write')).toMatchObject({
      valid: false,
      code: 'INSUFFICIENT_PERMISSIONS',
      missingPermissions: ['orders:write'],
    });

    const changed = await onA('/v1/roles/support', 'PATCH', { permissions: ['orders:read', 'orders:write'] });
    expect(changed.status).toBe(200);
    const since = Date.now();
    let answer = await verifyOnB('orders:write');
    while (!answer.valid && Date.now() - since < 2_000) {
      await sleep(25);
      answer = await verifyOnB('orders:write');
    }
    expect(answer).toMatchObject({ valid: true, permissions: ['orders:read', 'orders:write'] });
    expect(Date.now() - since).toBeLessThan(1_000);
  });
});

describeOnEmbedded('two service processes on one embedded data directory', () => {
  let dataDir: string;
  let first: ServiceProcess | undefined;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'keyward-two-processes-'));
  });
  afterAll(async () => {
    await first?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses the second process, naming the lock, and leaves the first one serving', async () => {
    first = await startService({ ...SHARED, DATA_DIR: dataDir });
    const second = await runToExit({ ...SHARED, DATA_DIR: dataDir });
    expect(second.code).not.toBe(0);
    expect(second.stdout + second.stderr).toMatch(/in use by process/);
    expect((await call(first.url, '/ready')).status).toBe(200);
  });
});
