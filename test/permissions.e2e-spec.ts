import { Response } from 'supertest';
import { Role } from '../src/common/auth/principal';
import { SignedIn, tenantWithRoles, TestTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

type Headers = Record<string, string>;
const withKey = (key: string): Headers => ({ 'x-api-key': key });
/** "201", or "403 PERMISSION_NOT_ALLOWED": compact enough for tables. */
const outcome = (res: Response): string => (res.status < 300 ? String(res.status) : `${res.status} ${res.body?.code}`);

/**
 * Tenant permissions and roles: defined per tenant, carried by keys, checked by a permission
 * query at verification, and never handed out beyond what the giver holds.
 */
describe('tenant permissions and roles', () => {
  let t: TestApp;
  let main: { tenant: TestTenant } & Record<Role, SignedIn>;
  let verifier: string;

  const createKey = async (auth: Headers, body: Record<string, unknown>) =>
    t.http
      .post('/v1/api-keys')
      .set(auth)
      .send({ name: 'k', scopes: ['keys:read'], ...body });
  const verify = async (key: string, permissions?: string, by = verifier) =>
    t.http
      .post('/v1/keys/verify')
      .set(withKey(by))
      .send({ key, ...(permissions === undefined ? {} : { permissions }) });

  beforeAll(async () => {
    t = await createTestApp();
    main = await tenantWithRoles(t);
    const owner = main.owner.auth;
    for (const name of ['orders:read', 'orders:write', 'admin', 'billing.invoices.read'])
      await t.http.post('/v1/permissions').set(owner).send({ name }).expect(201);
    await t.http
      .post('/v1/roles')
      .set(owner)
      .send({ name: 'support', permissions: ['orders:read'] })
      .expect(201);
    await t.http
      .post('/v1/roles')
      .set(owner)
      .send({ name: 'writer', permissions: ['orders:write'] })
      .expect(201);
    verifier = (await createKey(owner, { name: 'verifier', scopes: ['keys:verify'] })).body.apiKey;
  });
  afterAll(() => t.close());

  it('a key with role support verifies orders:read and not orders:write, which it is told is missing', async () => {
    const created = await createKey(main.owner.auth, {
      name: 'support bot',
      roles: ['support'],
      metadata: { plan: 'pro' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ roles: ['support'], permissions: [] });

    const ok = await verify(created.body.apiKey, 'orders:read');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      valid: true,
      code: 'VALID',
      keyId: created.body.id,
      name: 'support bot',
      tenantId: main.tenant.id,
      ownerId: main.owner.id,
      identity: null,
      permissions: ['orders:read'],
      roles: ['support'],
      scopes: ['keys:read'],
      meta: { plan: 'pro' },
      expiresAt: null,
      remaining: null,
      ratelimits: [{ name: 'default', limit: 100, remaining: 99, reset: expect.any(Number) }],
    });
    expect(ok.body.ratelimits[0].reset).toBeGreaterThan(Date.now() - 1000);

    const refused = await verify(created.body.apiKey, 'orders:write');
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({
      valid: false,
      code: 'INSUFFICIENT_PERMISSIONS',
      missingPermissions: ['orders:write'],
      permissions: ['orders:read'],
      keyId: created.body.id,
    });
    // A refused check spends nothing.
    expect(refused.body.ratelimits).toEqual([]);
    expect((await verify(created.body.apiKey, 'orders:write AND (orders:read OR admin)')).body).toMatchObject({
      valid: false,
      missingPermissions: ['orders:write'],
    });
    expect((await verify(created.body.apiKey)).body).toMatchObject({ valid: true });
  });

  it('effective permissions are the key’s own and its roles’, and the remaining quota is told', async () => {
    const key = await createKey(main.owner.auth, {
      roles: ['support'],
      permissions: ['admin'],
      quota: { remaining: 5 },
    });
    expect(key.body).toMatchObject({ permissions: ['admin'], roles: ['support'] });
    const res = await verify(key.body.apiKey, 'orders:read AND admin');
    expect(res.body).toMatchObject({ valid: true, permissions: ['admin', 'orders:read'], remaining: 4 });
  });

  it('changing, then deleting a role changes the answer for the keys that carry it at once', async () => {
    const owner = main.owner.auth;
    await t.http
      .post('/v1/roles')
      .set(owner)
      .send({ name: 'ops', permissions: ['orders:read'] })
      .expect(201);
    const key = (await createKey(owner, { roles: ['ops'] })).body;
    expect((await verify(key.apiKey, 'orders:write')).body.valid).toBe(false); // now cached
    const changed = await t.http
      .patch('/v1/roles/ops')
      .set(owner)
      .send({ permissions: ['orders:read', 'orders:write'] });
    expect(changed.status).toBe(200);
    expect(changed.body.permissions).toEqual(['orders:read', 'orders:write']);
    expect((await verify(key.apiKey, 'orders:write')).body.valid).toBe(true);
    expect((await t.http.get('/v1/roles/ops').set(withKey(verifier))).status).toBe(403); // keys:verify only

    const inUse = await t.http.delete('/v1/roles/ops').set(owner);
    expect(inUse.status).toBe(409);
    expect(inUse.body).toMatchObject({ code: 'ROLE_IN_USE', details: { keys: [{ id: key.id, name: 'k' }] } });
    await t.http.delete('/v1/roles/ops?force=true').set(owner).expect(204);
    expect((await t.http.get(`/v1/api-keys/${key.id}`).set(owner)).body.roles).toEqual([]);
    expect((await verify(key.apiKey, 'orders:read')).body).toMatchObject({ valid: false, permissions: [], roles: [] });
    const audit = await t.http.get('/v1/audit-events?action=role.deleted').set(owner);
    expect(audit.body.items[0].metadata).toMatchObject({ name: 'ops', force: true, removedFromKeys: [key.id] });
  });

  it('deleting a permission keys or roles carry is refused with their list, or done with ?force=true', async () => {
    const owner = main.owner.auth;
    await t.http.post('/v1/permissions').set(owner).send({ name: 'refunds:issue' }).expect(201);
    await t.http
      .post('/v1/roles')
      .set(owner)
      .send({ name: 'refunder', permissions: ['refunds:issue'] })
      .expect(201);
    const key = (await createKey(owner, { name: 'refund bot', permissions: ['refunds:issue'] })).body;
    expect((await verify(key.apiKey, 'refunds:issue')).body.valid).toBe(true);

    const inUse = await t.http.delete('/v1/permissions/refunds:issue').set(owner);
    expect(inUse.status).toBe(409);
    expect(inUse.body).toMatchObject({
      code: 'PERMISSION_IN_USE',
      details: { keys: [{ id: key.id, name: 'refund bot' }], roles: ['refunder'] },
    });
    await t.http.delete('/v1/permissions/refunds:issue?force=true').set(owner).expect(204);
    expect((await t.http.get(`/v1/api-keys/${key.id}`).set(owner)).body.permissions).toEqual([]);
    expect((await t.http.get('/v1/roles/refunder').set(owner)).body.permissions).toEqual([]);
    expect((await verify(key.apiKey, 'refunds:issue')).body).toMatchObject({
      valid: false,
      code: 'INSUFFICIENT_PERMISSIONS',
    });
    const audit = await t.http.get('/v1/audit-events?action=permission.deleted').set(owner);
    expect(audit.body.items[0].metadata).toMatchObject({
      name: 'refunds:issue',
      force: true,
      removedFromKeys: [key.id],
      removedFromRoles: ['refunder'],
    });
    expect((await t.http.delete('/v1/permissions/refunds:issue').set(owner)).status).toBe(404);
  });

  describe('containment: a key with keys:write and orders:read', () => {
    let narrow: { id: string; apiKey: string };
    let strong: { id: string };
    beforeAll(async () => {
      narrow = (await createKey(main.owner.auth, { scopes: ['keys:read', 'keys:write'], permissions: ['orders:read'] }))
        .body;
      strong = (await createKey(main.owner.auth, { permissions: ['orders:write'] })).body;
    });

    it('cannot create, PATCH or rotate a key to orders:write, directly or through a role (403)', async () => {
      const as = withKey(narrow.apiKey);
      expect(outcome(await createKey(as, { permissions: ['orders:write'] }))).toBe('403 PERMISSION_NOT_ALLOWED');
      expect(outcome(await createKey(as, { permissions: ['orders:read', 'orders:write'] }))).toBe(
        '403 PERMISSION_NOT_ALLOWED',
      );
      expect(outcome(await createKey(as, { roles: ['writer'] }))).toBe('403 ROLE_NOT_ALLOWED');
      // A role it does not carry, even one within its permissions: the role may grow later.
      expect(outcome(await createKey(as, { roles: ['support'] }))).toBe('403 ROLE_NOT_ALLOWED');

      const child = await createKey(as, { permissions: ['orders:read'] });
      expect(outcome(child)).toBe('201');
      expect(
        outcome(
          await t.http
            .patch(`/v1/api-keys/${child.body.id}`)
            .set(as)
            .send({ permissions: ['orders:write'] }),
        ),
      ).toBe('403 PERMISSION_NOT_ALLOWED');
      expect(
        outcome(
          await t.http
            .patch(`/v1/api-keys/${child.body.id}`)
            .set(as)
            .send({ roles: ['writer'] }),
        ),
      ).toBe('403 ROLE_NOT_ALLOWED');
      // A stronger key it can see: not changed, not rotated by it.
      expect(outcome(await t.http.patch(`/v1/api-keys/${strong.id}`).set(as).send({ name: 'renamed' }))).toBe(
        '403 PERMISSION_NOT_ALLOWED',
      );
      expect(outcome(await t.http.post(`/v1/api-keys/${strong.id}/rotate`).set(as).send({}))).toBe(
        '403 PERMISSION_NOT_ALLOWED',
      );
      const stored = (await t.http.get(`/v1/api-keys/${child.body.id}`).set(main.owner.auth)).body;
      expect(stored).toMatchObject({ permissions: ['orders:read'], roles: [] });
      // Narrowing is fine.
      expect(outcome(await t.http.patch(`/v1/api-keys/${child.body.id}`).set(as).send({ permissions: [] }))).toBe(
        '200',
      );
    });

    it('a key with permissions:write adds to a role only permissions it holds', async () => {
      const admin = (
        await createKey(main.owner.auth, {
          scopes: ['permissions:write', 'permissions:read'],
          permissions: ['orders:read'],
        })
      ).body.apiKey;
      const as = withKey(admin);
      expect(
        outcome(
          await t.http
            .post('/v1/roles')
            .set(as)
            .send({ name: 'sneaky', permissions: ['orders:write'] }),
        ),
      ).toBe('403 PERMISSION_NOT_ALLOWED');
      expect(
        outcome(
          await t.http
            .post('/v1/roles')
            .set(as)
            .send({ name: 'reader', permissions: ['orders:read'] }),
        ),
      ).toBe('201');
      expect(
        outcome(
          await t.http
            .patch('/v1/roles/reader')
            .set(as)
            .send({ permissions: ['orders:read', 'admin'] }),
        ),
      ).toBe('403 PERMISSION_NOT_ALLOWED');
      expect(outcome(await t.http.patch('/v1/roles/reader').set(as).send({ permissions: [] }))).toBe('200');
    });

    it('people: owners and admins give any tenant permission, members none', async () => {
      expect(outcome(await createKey(main.admin.auth, { permissions: ['orders:write'], roles: ['writer'] }))).toBe(
        '201',
      );
      expect(outcome(await createKey(main.member.auth, { permissions: ['orders:read'] }))).toBe(
        '403 PERMISSION_NOT_ALLOWED',
      );
      expect(outcome(await createKey(main.member.auth, { roles: ['support'] }))).toBe('403 ROLE_NOT_ALLOWED');
      expect(outcome(await createKey(main.member.auth, {}))).toBe('201');
      // Members read the vocabulary, only owners and admins define it.
      expect((await t.http.get('/v1/permissions').set(main.viewer.auth)).status).toBe(200);
      expect(outcome(await t.http.post('/v1/permissions').set(main.member.auth).send({ name: 'x' }))).toBe(
        '403 FORBIDDEN',
      );
    });
  });

  it('rotation carries the permissions and roles over to the new key', async () => {
    const old = (await createKey(main.owner.auth, { permissions: ['admin'], roles: ['support'] })).body;
    const rotated = await t.http
      .post(`/v1/api-keys/${old.id}/rotate`)
      .set(main.owner.auth)
      .send({ gracePeriodSeconds: 0 });
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ permissions: ['admin'], roles: ['support'] });
    expect((await verify(rotated.body.apiKey, 'admin AND orders:read')).body.valid).toBe(true);
  });

  it('a key of another tenant is answered as an unknown key, and names resolve only within a tenant', async () => {
    const other = await tenantWithRoles(t);
    await t.http.post('/v1/permissions').set(other.owner.auth).send({ name: 'orders:read' }).expect(201);
    const theirs = (await createKey(other.owner.auth, { permissions: ['orders:read'] })).body;
    const unknown = 'kw_' + 'A'.repeat(49);
    const asked = await verify(theirs.apiKey, 'orders:read');
    expect(asked.body).toEqual({ valid: false, code: 'KEY_NOT_FOUND' });
    expect((await verify(unknown, 'orders:read')).body).toEqual({ valid: false, code: expect.stringMatching(/^KEY_/) });
    // Tenant B does not see tenant A's roles, nor give them.
    expect((await t.http.get('/v1/roles/support').set(other.owner.auth)).status).toBe(404);
    expect(outcome(await createKey(other.owner.auth, { roles: ['support'] }))).toBe('400 UNKNOWN_ROLES');
    expect(
      (await t.http.get('/v1/permissions').set(other.owner.auth)).body.map((p: { name: string }) => p.name),
    ).toEqual(['orders:read']);
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['an unknown permission', { permissions: ['orders:read', 'nope:x'] }, 'UNKNOWN_PERMISSIONS', /nope:x/],
    ['an unknown role', { roles: ['ghost'] }, 'UNKNOWN_ROLES', /ghost/],
    ['a permission twice', { permissions: ['orders:read', 'orders:read'] }, 'VALIDATION_FAILED', /twice/],
    [
      'too many permissions',
      { permissions: Array.from({ length: 101 }, (_, i) => `p${i}`) },
      'VALIDATION_FAILED',
      /at most 100/,
    ],
    ['a name outside the grammar', { permissions: ['orders write'] }, 'VALIDATION_FAILED', /segments/],
    ['not a list', { roles: 'support' }, 'VALIDATION_FAILED', /array/],
  ])('a key with %s is refused with 400', async (_, body, code, message) => {
    const res = await createKey(main.owner.auth, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
    expect(JSON.stringify(res.body)).toMatch(message);
  });

  it.each<[string, string, RegExp]>([
    ['unbalanced', '(orders:read', /Unbalanced/],
    ['empty', ' ', /empty/],
    ['too long', 'a OR '.repeat(300) + 'a', /too long/],
    ['too deep', '('.repeat(9) + 'a' + ')'.repeat(9), /too deep/],
    ['a bad name', 'orders:read OR 9lives', /not a permission name/],
    ['two names in a row', 'orders:read orders:write', /Expected AND or OR/],
  ])('a %s permission query is answered 400 INVALID_PERMISSION_QUERY', async (_, query, message) => {
    const res = await verify('kw_' + 'A'.repeat(49), query);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_PERMISSION_QUERY', message: expect.stringMatching(message) });
    expect(
      (await t.http.post('/v1/keys/verify').set(withKey(verifier)).send({ key: 'x', permissions: 42 })).status,
    ).toBe(400);
  });

  it.each<[string, string, Record<string, unknown>, number, string]>([
    ['a duplicate permission', '/v1/permissions', { name: 'orders:read' }, 409, 'PERMISSION_EXISTS'],
    ['a permission named AND', '/v1/permissions', { name: 'AND' }, 400, 'VALIDATION_FAILED'],
    ['a too long permission', '/v1/permissions', { name: 'a'.repeat(101) }, 400, 'VALIDATION_FAILED'],
    ['a duplicate role', '/v1/roles', { name: 'support' }, 409, 'ROLE_EXISTS'],
    [
      'a role with an unknown permission',
      '/v1/roles',
      { name: 'r2', permissions: ['ghost'] },
      400,
      'UNKNOWN_PERMISSIONS',
    ],
    [
      'a role with a permission twice',
      '/v1/roles',
      { name: 'r3', permissions: ['admin', 'admin'] },
      400,
      'VALIDATION_FAILED',
    ],
    ['a role without a name', '/v1/roles', { permissions: [] }, 400, 'VALIDATION_FAILED'],
  ])('defining %s is refused', async (_, path, body, status, code) => {
    const res = await t.http.post(path).set(main.owner.auth).send(body);
    expect(outcome(res)).toBe(`${status} ${code}`);
  });

  it('names in paths outside the grammar are 400, unknown ones 404', async () => {
    expect(outcome(await t.http.get('/v1/roles/%20x').set(main.owner.auth))).toBe('400 VALIDATION_FAILED');
    expect(outcome(await t.http.get('/v1/roles/ghost').set(main.owner.auth))).toBe('404 NOT_FOUND');
    expect(outcome(await t.http.delete('/v1/permissions/a..b').set(main.owner.auth))).toBe('400 VALIDATION_FAILED');
    expect(outcome(await t.http.delete('/v1/permissions/admin?force=yes').set(main.owner.auth))).toBe(
      '400 VALIDATION_FAILED',
    );
  });
});
