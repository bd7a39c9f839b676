import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyCache } from '../src/api-keys/key-cache';
import { Invalidation, InvalidationBus } from '../src/invalidation/invalidation.bus';
import { adminHeaders, createTenant, createUser, SignedIn, signIn } from './helpers/identity';
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
  // Assigned in beforeAll; afterAll copes with a start that failed.
  let a!: TestApp;
  let b!: TestApp;

  beforeAll(async () => {
    databaseName = await createTestDatabase();
    a = await createTestApp({ reuseDatabase: { name: databaseName }, env: SHARED_SECRETS });
    b = await createTestApp({ reuseDatabase: { name: databaseName }, env: SHARED_SECRETS });
  });

  afterAll(async () => {
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    if (databaseName) await dropTestDatabase(databaseName);
  });

  it('a key revoked on instance A is refused by instance B, which had it cached, once the notification arrives', async () => {
    const tenant = await createTenant(a);
    const makeKey = async (name: string) => {
      const res = await a.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId: tenant.id, name, scopes: ['keys:write', 'config:read'] })
        .expect(201);
      return res.body as { apiKey: string; id: string };
    };
    const key1 = await makeKey('revoker');
    const key2 = await makeKey('victim');

    // B verifies key2 once and keeps it in its cache.
    await b.http.get('/config').set('x-api-key', key2.apiKey).expect(200);
    expect(b.app.get(KeyCache).size).toBe(1);

    // B hears of the revocation through PostgreSQL NOTIFY; until then it answers from its cache.
    const heard = new Promise<void>((resolve) =>
      b.app.get(InvalidationBus).subscribe((change) => change.kind === 'key' && change.keyId === key2.id && resolve()),
    );
    await a.http.delete(`/v1/api-keys/${key2.id}`).set('x-api-key', key1.apiKey).expect(204);
    // A itself refuses it at once.
    expect((await a.http.get('/config').set('x-api-key', key2.apiKey).expect(401)).body.code).toBe('KEY_REVOKED');
    await heard;
    expect((await b.http.get('/config').set('x-api-key', key2.apiKey).expect(401)).body.code).toBe('KEY_REVOKED');

    // Only key2 was dropped: key1 still works on B.
    await b.http.get('/config').set('x-api-key', key1.apiKey).expect(200);
  });

  describe('session changes made on instance A are refused by instance B, which had the session check cached', () => {
    let owner: SignedIn;
    let tenantId: string;

    /** A signed-in member whose session B has checked, and so cached. */
    const memberCheckedOnB = async (): Promise<SignedIn> => {
      const member = await signIn(a, await createUser(a, tenantId, 'member'));
      expect((await b.http.get('/auth/me').set(member.auth).expect(200)).body.role).toBe('member');
      return member;
    };

    /** Resolves once B's bus delivers a change that matches (the caches hear it first: they subscribed first). */
    const heardOnB = (matches: (change: Invalidation) => boolean) =>
      new Promise<void>((resolve) =>
        b.app.get(InvalidationBus).subscribe((change) => change.kind !== 'all' && matches(change) && resolve()),
      );
    const sessionOf = (member: SignedIn): string =>
      JSON.parse(Buffer.from(member.accessToken.split('.')[1], 'base64url').toString()).sid;
    /** B answered from its cache before; once it hears the change, its very next answer reflects it. */
    const reachesB = async (
      member: SignedIn,
      heard: Promise<void>,
      changed: (res: { status: number; body: { role?: string; code?: string } }) => boolean,
    ) => {
      await heard;
      const res = await b.http.get('/auth/me').set(member.auth);
      expect(changed(res)).toBe(true);
    };
    const sessionEnded = (res: { status: number; body: { code?: string } }) =>
      res.status === 401 && res.body.code === 'SESSION_ENDED';

    beforeAll(async () => {
      tenantId = (await createTenant(a)).id;
      owner = await signIn(a, await createUser(a, tenantId, 'owner'));
    });

    it('sign-out', async () => {
      const member = await memberCheckedOnB();
      const heard = heardOnB((change) => change.kind === 'session' && change.sessionId === sessionOf(member));
      await a.http.post('/auth/logout').set(member.auth).expect(204);
      await a.http.get('/auth/me').set(member.auth).expect(401);
      await reachesB(member, heard, sessionEnded);
    });

    it('a session revoked from the list of sessions', async () => {
      const member = await memberCheckedOnB();
      const sessions = (await a.http.get('/auth/sessions').set(member.auth).expect(200)).body as { id: string }[];
      expect(sessions).toHaveLength(1);
      const heard = heardOnB((change) => change.kind === 'session' && change.sessionId === sessions[0].id);
      await a.http.delete(`/auth/sessions/${sessions[0].id}`).set(member.auth).expect(204);
      await reachesB(member, heard, sessionEnded);
    });

    it('a disabled user', async () => {
      const member = await memberCheckedOnB();
      const heard = heardOnB((change) => change.kind === 'user' && change.userId === member.id);
      await a.http.patch(`/v1/users/${member.id}`).set(owner.auth).send({ status: 'disabled' }).expect(200);
      await reachesB(member, heard, sessionEnded);
    });

    it('a demotion (or any role change)', async () => {
      const admin = await signIn(a, await createUser(a, tenantId, 'admin'));
      expect((await b.http.get('/auth/me').set(admin.auth).expect(200)).body.role).toBe('admin');
      const heard = heardOnB((change) => change.kind === 'user' && change.userId === admin.id);
      await a.http.patch(`/v1/users/${admin.id}`).set(owner.auth).send({ role: 'viewer' }).expect(200);
      await reachesB(admin, heard, (res) => res.status === 200 && res.body.role === 'viewer');
    });

    it('a suspended tenant', async () => {
      const member = await memberCheckedOnB();
      const heard = heardOnB((change) => change.kind === 'tenant' && change.tenantId === tenantId);
      await a.http.patch(`/admin/tenants/${tenantId}`).set(adminHeaders).send({ status: 'suspended' }).expect(200);
      await reachesB(member, heard, sessionEnded);
    });
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
