import { randomBytes, randomUUID } from 'node:crypto';
import { Role } from '../src/common/auth/principal';
import {
  adminHeaders,
  createTenant,
  createUser,
  login,
  SignedIn,
  signIn,
  strongPassword,
  tenantWithRoles,
  TestTenant,
  TestUser,
} from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

const unique = () => randomBytes(4).toString('hex');

describe('tenants and users', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ env: { PUBLIC_URL: 'http://kw.test' } });
  });
  afterAll(() => t.close());

  /** The tenant's users as its owner sees them, by id. */
  async function usersOf(
    owner: SignedIn,
  ): Promise<Map<string, { id: string; tenantId: string; email: string; role: Role; status: string }>> {
    const res = await t.http.get('/v1/users').set(owner.auth).expect(200);
    return new Map(res.body.map((user: { id: string }) => [user.id, user]));
  }

  describe('admin tenants API', () => {
    it('creates a tenant and derives the slug from the name when none is given', async () => {
      const suffix = unique();
      const res = await t.http
        .post('/admin/tenants')
        .set(adminHeaders)
        .send({ name: `Zürich Labs & Co. ${suffix}` })
        .expect(201);
      expect(res.body).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: `Zürich Labs & Co. ${suffix}`,
        slug: `zurich-labs-co-${suffix}`,
        status: 'active',
        maxKeysPerUser: 10,
        maxKeysPerTenant: 100,
        defaultKeyScopes: ['config:read', 'keys:read'],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
    });

    it('keeps an explicit slug', async () => {
      const slug = `acme-${unique()}`;
      const res = await t.http.post('/admin/tenants').set(adminHeaders).send({ name: 'Acme Inc.', slug }).expect(201);
      expect(res.body).toMatchObject({ name: 'Acme Inc.', slug });
    });

    it('refuses a slug that is taken, given or derived, with 409 TENANT_SLUG_TAKEN', async () => {
      const slug = `taken-${unique()}`;
      await t.http.post('/admin/tenants').set(adminHeaders).send({ name: 'First', slug }).expect(201);
      const given = await t.http.post('/admin/tenants').set(adminHeaders).send({ name: 'Second', slug }).expect(409);
      expect(given.body).toMatchObject({ statusCode: 409, code: 'TENANT_SLUG_TAKEN' });
      const derived = await t.http
        .post('/admin/tenants')
        .set(adminHeaders)
        .send({ name: slug.toUpperCase() })
        .expect(409);
      expect(derived.body).toMatchObject({ code: 'TENANT_SLUG_TAKEN' });
    });

    it.each([['Upper'], ['-leading'], ['trailing-'], ['with space'], ['under_score'], ['a'.repeat(64)], [''], [42]])(
      'refuses the slug %p with 400',
      async (slug) => {
        const res = await t.http.post('/admin/tenants').set(adminHeaders).send({ name: 'Bad slug', slug }).expect(400);
        expect(res.body).toMatchObject({
          code: 'VALIDATION_FAILED',
          details: [expect.objectContaining({ field: 'slug' })],
        });
      },
    );

    it('refuses a missing or empty name with 400', async () => {
      await t.http.post('/admin/tenants').set(adminHeaders).send({}).expect(400);
      await t.http.post('/admin/tenants').set(adminHeaders).send({ name: '' }).expect(400);
    });

    it('lists tenants in pages', async () => {
      await Promise.all([createTenant(t), createTenant(t), createTenant(t)]);
      const all = await t.http.get('/admin/tenants?limit=100').set(adminHeaders).expect(200);
      expect(all.body).toMatchObject({ page: 1, limit: 100, total: all.body.items.length });
      expect(all.body.total).toBeGreaterThanOrEqual(3);

      const ids: string[] = [];
      for (let page = 1; page <= Math.ceil(all.body.total / 2); page++) {
        const res = await t.http.get(`/admin/tenants?page=${page}&limit=2`).set(adminHeaders).expect(200);
        expect(res.body).toMatchObject({ page, limit: 2, total: all.body.total });
        expect(res.body.items.length).toBe(Math.min(2, all.body.total - (page - 1) * 2));
        ids.push(...res.body.items.map((tenant: { id: string }) => tenant.id));
      }
      expect(ids).toEqual(all.body.items.map((tenant: { id: string }) => tenant.id));

      const beyond = await t.http
        .get(`/admin/tenants?page=${all.body.total + 1}&limit=1`)
        .set(adminHeaders)
        .expect(200);
      expect(beyond.body).toMatchObject({ items: [], total: all.body.total });

      const defaults = await t.http.get('/admin/tenants').set(adminHeaders).expect(200);
      expect(defaults.body).toMatchObject({ page: 1, limit: 20 });
    });

    it.each(['limit=101', 'limit=0', 'page=0', 'page=-1', 'limit=abc', 'page=1.5', 'sort=name'])(
      'refuses ?%s with 400',
      async (query) => {
        const res = await t.http.get(`/admin/tenants?${query}`).set(adminHeaders).expect(400);
        expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      },
    );

    it('gets one tenant; an unknown id is 404 and a malformed one 400', async () => {
      const tenant = await createTenant(t);
      const res = await t.http.get(`/admin/tenants/${tenant.id}`).set(adminHeaders).expect(200);
      expect(res.body).toEqual(tenant);
      const missing = await t.http.get(`/admin/tenants/${randomUUID()}`).set(adminHeaders).expect(404);
      expect(missing.body).toMatchObject({ code: 'NOT_FOUND' });
      await t.http.get('/admin/tenants/not-a-uuid').set(adminHeaders).expect(400);
    });

    it('updates name, status, key limits and default key scopes', async () => {
      const tenant = await createTenant(t);
      const changes = {
        name: 'Renamed',
        status: 'suspended',
        maxKeysPerUser: 3,
        maxKeysPerTenant: 7,
        defaultKeyScopes: ['keys:read', 'users:read'],
      };
      const res = await t.http.patch(`/admin/tenants/${tenant.id}`).set(adminHeaders).send(changes).expect(200);
      expect(res.body).toMatchObject({ ...changes, id: tenant.id, slug: tenant.slug });
      const stored = await t.http.get(`/admin/tenants/${tenant.id}`).set(adminHeaders).expect(200);
      expect(stored.body).toMatchObject(changes);

      // A partial update leaves the other fields alone.
      const partial = await t.http
        .patch(`/admin/tenants/${tenant.id}`)
        .set(adminHeaders)
        .send({ status: 'active' })
        .expect(200);
      expect(partial.body).toMatchObject({ ...changes, status: 'active' });
    });

    it.each([
      ['an unknown scope', { defaultKeyScopes: ['keys:read', 'keys:destroy'] }],
      ['a repeated scope', { defaultKeyScopes: ['keys:read', 'keys:read'] }],
      ['scopes that are not a list', { defaultKeyScopes: 'keys:read' }],
      ['an unknown status', { status: 'deleted' }],
      ['a negative key limit', { maxKeysPerUser: -1 }],
      ['a fractional key limit', { maxKeysPerTenant: 1.5 }],
      ['an empty name', { name: '' }],
      ['a slug change', { slug: 'new-slug' }],
      ['an id', { id: randomUUID() }],
    ])('refuses an update with %s (400)', async (_, body) => {
      const tenant = await createTenant(t);
      const res = await t.http.patch(`/admin/tenants/${tenant.id}`).set(adminHeaders).send(body).expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      const stored = await t.http.get(`/admin/tenants/${tenant.id}`).set(adminHeaders).expect(200);
      expect(stored.body).toEqual(tenant);
    });

    it('answers 404 when updating an unknown tenant', async () => {
      await t.http.patch(`/admin/tenants/${randomUUID()}`).set(adminHeaders).send({ name: 'x' }).expect(404);
    });

    describe('requires the admin token', () => {
      const routes: [string, string, (id: string) => string][] = [
        ['POST', '/admin/tenants', () => '/admin/tenants'],
        ['GET', '/admin/tenants', () => '/admin/tenants'],
        ['GET', '/admin/tenants/:id', (id) => `/admin/tenants/${id}`],
        ['PATCH', '/admin/tenants/:id', (id) => `/admin/tenants/${id}`],
        ['POST', '/admin/tenants/:id/users', (id) => `/admin/tenants/${id}/users`],
      ];
      const bodies: Record<string, object> = {
        'POST /admin/tenants': { name: 'Sneaky' },
        'PATCH /admin/tenants/:id': { name: 'Sneaky' },
        'POST /admin/tenants/:id/users': {
          email: 'sneaky@example.com',
          role: 'owner',
          password: 'violet tractor sneaky umbrella',
        },
      };

      it.each(routes)('%s %s answers 401 without it and with a wrong one', async (method, pattern, path) => {
        const tenant = await createTenant(t);
        const url = path(tenant.id);
        const send = (headers: Record<string, string>) => {
          const req = t.http[method.toLowerCase() as 'get' | 'post' | 'patch'](url).set(headers);
          return bodies[`${method} ${pattern}`] ? req.send(bodies[`${method} ${pattern}`]) : req;
        };
        const attempts: Record<string, string>[] = [
          {},
          { 'x-admin-token': adminHeaders['x-admin-token'].slice(0, -1) + '!' },
          { authorization: `Bearer ${adminHeaders['x-admin-token']}` },
        ];
        for (const headers of attempts) {
          const res = await send(headers).expect(401);
          expect(res.body).toMatchObject({ code: 'ADMIN_TOKEN_INVALID' });
        }
        // Nothing was changed by the refused requests.
        const stored = await t.http.get(`/admin/tenants/${tenant.id}`).set(adminHeaders).expect(200);
        expect(stored.body.name).toBe(tenant.name);
        await t.http
          .post('/auth/login')
          .send({ email: 'sneaky@example.com', password: 'violet tractor sneaky umbrella' })
          .expect(401);
      });
    });
  });

  describe('admin creates users', () => {
    let tenant: TestTenant;
    beforeAll(async () => {
      tenant = await createTenant(t);
    });

    it('with a password: an active user who can sign in', async () => {
      const email = `active-${unique()}@example.com`;
      const password = strongPassword();
      const res = await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email, role: 'admin', password })
        .expect(201);
      expect(res.body).toEqual({
        id: expect.any(String),
        tenantId: tenant.id,
        email,
        role: 'admin',
        status: 'active',
        createdAt: expect.any(String),
        lastLoginAt: null,
      });
      expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|password_hash|argon2|violet/);
      await login(t, email, password);
    });

    it('without a password: an invited user with a single-use invite link', async () => {
      const email = `invited-${unique()}@example.com`;
      const res = await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email, role: 'member' })
        .expect(201);
      expect(res.body).toMatchObject({
        tenantId: tenant.id,
        email,
        role: 'member',
        status: 'invited',
        inviteUrl: expect.stringMatching(/^http:\/\/kw\.test\/invite\?token=[\w%-]+$/),
      });
      expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|password_hash/);
      const token = new URL(res.body.inviteUrl).searchParams.get('token')!;

      // An invited user cannot sign in, with no password or any password.
      await t.http.post('/auth/login').send({ email, password: '' }).expect(400);
      await t.http.post('/auth/login').send({ email, password: 'anything at all really' }).expect(401);

      const password = strongPassword();
      await t.http.post('/auth/invitations/accept').send({ token, password }).expect(204);
      const user = await signIn(t, { id: res.body.id, tenantId: tenant.id, email, role: 'member', password });
      const me = await t.http.get('/auth/me').set(user.auth).expect(200);
      expect(me.body).toMatchObject({
        user: { id: res.body.id, email, role: 'member', status: 'active' },
        tenant: { id: tenant.id },
      });

      const again = await t.http
        .post('/auth/invitations/accept')
        .send({ token, password: strongPassword() })
        .expect(400);
      expect(again.body).toMatchObject({ code: 'INVALID_TOKEN' });
      await login(t, email, password);
    });

    it('an invite link used twice at the same moment works only once', async () => {
      const email = `racing-${unique()}@example.com`;
      const res = await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email, role: 'member' })
        .expect(201);
      const token = new URL(res.body.inviteUrl).searchParams.get('token')!;
      const passwords = [strongPassword(), strongPassword()];
      const results = await Promise.all(
        passwords.map((password) => t.http.post('/auth/invitations/accept').send({ token, password })),
      );
      expect(results.map((r) => r.status).sort()).toEqual([204, 400]);
      const winner = passwords[results.findIndex((r) => r.status === 204)];
      const loser = passwords[results.findIndex((r) => r.status === 400)];
      await login(t, email, winner);
      await t.http.post('/auth/login').send({ email, password: loser }).expect(401);
    });

    it('an invitation token is not a password reset token', async () => {
      const email = `invited-${unique()}@example.com`;
      const res = await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email, role: 'viewer' })
        .expect(201);
      const token = new URL(res.body.inviteUrl).searchParams.get('token')!;
      const reset = await t.http
        .post('/auth/password/reset')
        .send({ token, newPassword: strongPassword() })
        .expect(400);
      expect(reset.body).toMatchObject({ code: 'INVALID_TOKEN' });
      await t.http.post('/auth/invitations/accept').send({ token, password: strongPassword() }).expect(204);
    });

    it('the operator is refused an email that has an account anywhere, whatever its case (409 EMAIL_TAKEN)', async () => {
      const local = `Case.Mix-${unique()}`;
      const first = await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email: `${local}@Example.COM`, role: 'member', password: strongPassword() })
        .expect(201);
      expect(first.body.email).toBe(`${local}@example.com`.toLowerCase());

      const other = await createTenant(t);
      for (const [tenantId, email] of [
        [tenant.id, `${local}@example.com`.toLowerCase()],
        [tenant.id, `${local}@example.com`.toUpperCase()],
        [other.id, `${local}@example.com`],
        [other.id, `  ${local}@EXAMPLE.com  `],
      ]) {
        const res = await t.http
          .post(`/admin/tenants/${tenantId}/users`)
          .set(adminHeaders)
          .send({ email, role: 'owner', password: strongPassword() })
          .expect(409);
        expect(res.body).toMatchObject({ code: 'EMAIL_TAKEN' });
      }
      // Inviting someone who is already in the same tenant is refused too: the tenant lists them anyway.
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const again = await t.http
        .post('/v1/users/invitations')
        .set(owner.auth)
        .send({ email: `${local}@EXAMPLE.com`, role: 'member' })
        .expect(409);
      expect(again.body).toMatchObject({ code: 'EMAIL_TAKEN' });
    });

    it('an invitation answers the same whether the email has an account in another tenant or none, and reserves nothing', async () => {
      const holder = await createUser(t, tenant.id, 'member');
      const inviting = await signIn(t, await createUser(t, (await createTenant(t)).id, 'owner'));
      const shape = (res: { status: number; body: Record<string, unknown> }) => ({
        status: res.status,
        keys: Object.keys(res.body).sort(),
        status_: res.body.status,
        role: res.body.role,
      });
      const taken = await t.http
        .post('/v1/users/invitations')
        .set(inviting.auth)
        .send({ email: holder.email, role: 'member' });
      const free = await t.http
        .post('/v1/users/invitations')
        .set(inviting.auth)
        .send({ email: `free-${unique()}@example.com`, role: 'member' });
      expect(shape(taken)).toEqual(shape(free));
      expect(taken.status).toBe(201);

      // The invitation blocks no one: another tenant, or the operator, can still give the free address an account.
      const third = await signIn(t, await createUser(t, (await createTenant(t)).id, 'owner'));
      await t.http
        .post('/v1/users/invitations')
        .set(third.auth)
        .send({ email: free.body.email, role: 'viewer' })
        .expect(201);
      await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email: free.body.email, role: 'member', password: strongPassword() })
        .expect(201);
      await login(t, holder.email, holder.password);
    });

    it('accepting an invitation for an address that has an account elsewhere says so, changes nothing and keeps the link', async () => {
      const holder = await createUser(t, tenant.id, 'member');
      const other = await createTenant(t);
      const res = await t.http
        .post(`/admin/tenants/${other.id}/users`)
        .set(adminHeaders)
        .send({ email: holder.email, role: 'member' })
        .expect(201);
      const token = new URL(res.body.inviteUrl).searchParams.get('token')!;
      const clash = await t.http
        .post('/auth/invitations/accept')
        .send({ token, password: strongPassword() })
        .expect(409);
      expect(clash.body).toMatchObject({
        code: 'EMAIL_IN_USE',
        message: expect.stringContaining('already has a Keyward account'),
      });
      // The existing account is untouched and still the one that signs in.
      const signedIn = await signIn(t, holder);
      expect((await t.http.get('/auth/me').set(signedIn.auth).expect(200)).body).toMatchObject({
        tenant: { id: tenant.id },
      });
    });

    it('an invited user cannot be switched to active, and once disabled cannot accept the invitation', async () => {
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const res = await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email: `pending-${unique()}@example.com`, role: 'member' })
        .expect(201);
      const pending = await t.http
        .patch(`/v1/users/${res.body.id}`)
        .set(owner.auth)
        .send({ status: 'active' })
        .expect(409);
      expect(pending.body).toMatchObject({ code: 'INVITATION_PENDING' });

      await t.http.patch(`/v1/users/${res.body.id}`).set(owner.auth).send({ status: 'disabled' }).expect(200);
      const token = new URL(res.body.inviteUrl).searchParams.get('token')!;
      const accept = await t.http
        .post('/auth/invitations/accept')
        .send({ token, password: strongPassword() })
        .expect(400);
      expect(accept.body).toMatchObject({ code: 'INVALID_TOKEN' });
      expect((await usersOf(owner)).get(res.body.id)).toMatchObject({ status: 'disabled' });
    });

    it('answers 404 for an unknown tenant and 400 for a malformed tenant id', async () => {
      const body = { email: `ghost-${unique()}@example.com`, role: 'owner', password: strongPassword() };
      const res = await t.http.post(`/admin/tenants/${randomUUID()}/users`).set(adminHeaders).send(body).expect(404);
      expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
      await t.http.post('/admin/tenants/nope/users').set(adminHeaders).send(body).expect(400);
    });

    it.each(['password', 'short', 'aaaaaaaaaaaa', '12345678'])(
      'refuses the weak password %p with 400 WEAK_PASSWORD and creates nobody',
      async (password) => {
        const email = `weak-${unique()}@example.com`;
        const res = await t.http
          .post(`/admin/tenants/${tenant.id}/users`)
          .set(adminHeaders)
          .send({ email, role: 'member', password })
          .expect(400);
        expect(res.body).toMatchObject({ code: 'WEAK_PASSWORD' });
        // The email is still free.
        await t.http
          .post(`/admin/tenants/${tenant.id}/users`)
          .set(adminHeaders)
          .send({ email, role: 'member' })
          .expect(201);
      },
    );

    it.each([
      ['an invalid email', { email: 'not-an-email', role: 'member' }],
      ['an unknown role', { email: 'x@example.com', role: 'superuser' }],
      ['a status', { email: 'x@example.com', role: 'member', status: 'active' }],
      [
        'a password hash',
        { email: 'x@example.com', role: 'member', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$AAAA$BBBB' },
      ],
      ['a tenant id', { email: 'x@example.com', role: 'member', tenantId: randomUUID() }],
    ])('refuses a body with %s (400)', async (_, body) => {
      const res = await t.http.post(`/admin/tenants/${tenant.id}/users`).set(adminHeaders).send(body).expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    });

    it('never shows password hashes when listing users', async () => {
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const res = await t.http.get('/v1/users').set(owner.auth).expect(200);
      expect(res.body.length).toBeGreaterThan(1);
      expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|password_hash|argon2/);
      for (const user of res.body)
        expect(Object.keys(user).sort()).toEqual([
          'createdAt',
          'email',
          'id',
          'lastLoginAt',
          'role',
          'status',
          'tenantId',
        ]);
    });
  });

  describe('role matrix', () => {
    type Action =
      | 'list users'
      | 'invite member'
      | 'invite admin'
      | 'member → viewer'
      | 'admin → member'
      | 'member → owner'
      | 'disable member'
      | 'disable admin';
    type Outcome = 'allowed' | 'denied';

    /** Every actor role × action, in one place. */
    const MATRIX: Record<Action, Record<Role, Outcome>> = {
      'list users': { owner: 'allowed', admin: 'allowed', member: 'allowed', viewer: 'allowed' },
      'invite member': { owner: 'allowed', admin: 'allowed', member: 'denied', viewer: 'denied' },
      'invite admin': { owner: 'allowed', admin: 'denied', member: 'denied', viewer: 'denied' },
      'member → viewer': { owner: 'allowed', admin: 'allowed', member: 'denied', viewer: 'denied' },
      'admin → member': { owner: 'allowed', admin: 'denied', member: 'denied', viewer: 'denied' },
      'member → owner': { owner: 'allowed', admin: 'denied', member: 'denied', viewer: 'denied' },
      'disable member': { owner: 'allowed', admin: 'allowed', member: 'denied', viewer: 'denied' },
      'disable admin': { owner: 'allowed', admin: 'denied', member: 'denied', viewer: 'denied' },
    };

    /** Each action: the fresh target user it needs, and the change or invitation it makes. */
    const ACTIONS: Record<Action, { target?: Role; change?: object; invite?: Role }> = {
      'list users': {},
      'invite member': { invite: 'member' },
      'invite admin': { invite: 'admin' },
      'member → viewer': { target: 'member', change: { role: 'viewer' } },
      'admin → member': { target: 'admin', change: { role: 'member' } },
      'member → owner': { target: 'member', change: { role: 'owner' } },
      'disable member': { target: 'member', change: { status: 'disabled' } },
      'disable admin': { target: 'admin', change: { status: 'disabled' } },
    };

    const cells = (Object.keys(MATRIX) as Action[]).flatMap((action) =>
      (Object.keys(MATRIX[action]) as Role[]).map((actor) => [actor, action, MATRIX[action][actor]] as const),
    );

    let team: Awaited<ReturnType<typeof tenantWithRoles>>;
    beforeAll(async () => {
      team = await tenantWithRoles(t);
    });

    it.each(cells)('%s: %s is %s', async (actor, action, outcome) => {
      const caller = team[actor];
      const { target: targetRole, change, invite } = ACTIONS[action];
      const target: TestUser | undefined = targetRole ? await createUser(t, team.tenant.id, targetRole) : undefined;

      const inviteeEmail = `invitee-${unique()}@example.com`;
      let status: number;
      let body: Record<string, unknown>;
      if (action === 'list users') {
        ({ status, body } = await t.http.get('/v1/users').set(caller.auth));
      } else if (invite) {
        ({ status, body } = await t.http
          .post('/v1/users/invitations')
          .set(caller.auth)
          .send({ email: inviteeEmail, role: invite }));
      } else {
        ({ status, body } = await t.http.patch(`/v1/users/${target!.id}`).set(caller.auth).send(change));
      }

      const users = await usersOf(team.owner);
      if (outcome === 'denied') {
        expect({ status, code: body.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
        if (target) expect(users.get(target.id)).toMatchObject({ role: target.role, status: 'active' });
        if (invite) expect([...users.values()].map((user) => user.email)).not.toContain(inviteeEmail);
        return;
      }
      expect(status).toBeGreaterThanOrEqual(200);
      expect(status).toBeLessThan(300);
      if (action === 'list users') {
        expect(new Set((body as unknown as { id: string }[]).map((user) => user.id))).toEqual(new Set(users.keys()));
      } else if (invite) {
        expect(status).toBe(201);
        expect(body).toMatchObject({ tenantId: team.tenant.id, email: inviteeEmail, role: invite, status: 'invited' });
        expect(users.get(body.id as string)).toMatchObject({ role: invite, status: 'invited' });
      } else {
        expect(status).toBe(200);
        expect(body).toMatchObject({ id: target!.id, ...change });
        expect(users.get(target!.id)).toMatchObject(change!);
      }
    });

    it('a denied invitation creates no user', async () => {
      const email = `not-invited-${unique()}@example.com`;
      await t.http.post('/v1/users/invitations').set(team.admin.auth).send({ email, role: 'owner' }).expect(403);
      await t.http.post('/v1/users/invitations').set(team.member.auth).send({ email, role: 'member' }).expect(403);
      const users = await usersOf(team.owner);
      expect([...users.values()].map((user) => user.email)).not.toContain(email);
      await t.http.post('/v1/users/invitations').set(team.owner.auth).send({ email, role: 'member' }).expect(201);
    });

    it('an admin may not touch an owner, nor make anyone an admin', async () => {
      const member = await createUser(t, team.tenant.id, 'member');
      const owner = await createUser(t, team.tenant.id, 'owner');
      await t.http.patch(`/v1/users/${member.id}`).set(team.admin.auth).send({ role: 'admin' }).expect(403);
      await t.http.patch(`/v1/users/${owner.id}`).set(team.admin.auth).send({ status: 'disabled' }).expect(403);
      await t.http.patch(`/v1/users/${owner.id}`).set(team.admin.auth).send({ role: 'viewer' }).expect(403);
      const users = await usersOf(team.owner);
      expect(users.get(member.id)).toMatchObject({ role: 'member', status: 'active' });
      expect(users.get(owner.id)).toMatchObject({ role: 'owner', status: 'active' });
    });

    it('answers 404 for an unknown user and 400 for a malformed id', async () => {
      const res = await t.http
        .patch(`/v1/users/${randomUUID()}`)
        .set(team.owner.auth)
        .send({ role: 'viewer' })
        .expect(404);
      expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
      await t.http.patch('/v1/users/not-a-uuid').set(team.owner.auth).send({ role: 'viewer' }).expect(400);
    });

    it('refuses unauthenticated calls with 401', async () => {
      await t.http.get('/v1/users').expect(401);
      await t.http
        .post('/v1/users/invitations')
        .send({ email: `anon-${unique()}@example.com`, role: 'member' })
        .expect(401);
      await t.http.patch(`/v1/users/${team.member.id}`).send({ role: 'viewer' }).expect(401);
      await t.http.get('/v1/users').set(adminHeaders).expect(401);
    });
  });

  describe('the last owner', () => {
    async function tenantWithOwner() {
      const tenant = await createTenant(t);
      return { tenant, owner: await signIn(t, await createUser(t, tenant.id, 'owner')) };
    }

    it.each([
      ['demote themself', { role: 'admin' }],
      ['disable themself', { status: 'disabled' }],
    ])('may not %s (409 LAST_OWNER)', async (_, change) => {
      const { tenant, owner } = await tenantWithOwner();
      // Neither an invited owner nor a disabled owner counts.
      await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email: `invited-owner-${unique()}@example.com`, role: 'owner' })
        .expect(201);
      const disabled = await createUser(t, tenant.id, 'owner');
      await t.http.patch(`/v1/users/${disabled.id}`).set(owner.auth).send({ status: 'disabled' }).expect(200);

      const res = await t.http.patch(`/v1/users/${owner.id}`).set(owner.auth).send(change).expect(409);
      expect(res.body).toMatchObject({ code: 'LAST_OWNER' });
      const users = await usersOf(owner);
      expect(users.get(owner.id)).toMatchObject({ role: 'owner', status: 'active' });
    });

    it('with a second active owner, an owner may demote themself', async () => {
      const { tenant, owner } = await tenantWithOwner();
      const second = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const res = await t.http.patch(`/v1/users/${owner.id}`).set(owner.auth).send({ role: 'admin' }).expect(200);
      expect(res.body).toMatchObject({ id: owner.id, role: 'admin' });
      // Now the second one is the last owner.
      const last = await t.http
        .patch(`/v1/users/${second.id}`)
        .set(second.auth)
        .send({ status: 'disabled' })
        .expect(409);
      expect(last.body).toMatchObject({ code: 'LAST_OWNER' });
    });

    it('with a second active owner, an owner may disable themself, which ends their session', async () => {
      const { tenant, owner } = await tenantWithOwner();
      const second = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const res = await t.http.patch(`/v1/users/${owner.id}`).set(owner.auth).send({ status: 'disabled' }).expect(200);
      expect(res.body).toMatchObject({ id: owner.id, role: 'owner', status: 'disabled' });
      await t.http.get('/v1/users').set(owner.auth).expect(401);
      const users = await usersOf(second);
      expect(users.get(owner.id)).toMatchObject({ status: 'disabled' });
    });

    it('two owners demoting themselves at the same moment cannot both succeed', async () => {
      const { tenant, owner } = await tenantWithOwner();
      const second = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const results = await Promise.all(
        [owner, second].map((who) => t.http.patch(`/v1/users/${who.id}`).set(who.auth).send({ role: 'member' })),
      );
      expect(results.map((res) => res.status).sort()).toEqual([200, 409]);
      expect(results.find((res) => res.status === 409)!.body).toMatchObject({ code: 'LAST_OWNER' });
      const stillOwner = results[0].status === 409 ? owner : second;
      const remaining = [...(await usersOf(stillOwner)).values()];
      expect(remaining.filter((user) => user.role === 'owner' && user.status === 'active')).toHaveLength(1);
    });

    it('one owner may demote another while one remains', async () => {
      const { tenant, owner } = await tenantWithOwner();
      const second = await createUser(t, tenant.id, 'owner');
      await t.http.patch(`/v1/users/${second.id}`).set(owner.auth).send({ role: 'member' }).expect(200);
      await t.http.patch(`/v1/users/${owner.id}`).set(owner.auth).send({ role: 'member' }).expect(409);
    });
  });

  describe('disabling a user', () => {
    it('ends their sessions at once', async () => {
      const team = await tenantWithRoles(t);
      // Used once, so a cached session check exists and must not keep the token alive.
      await t.http.get('/v1/users').set(team.member.auth).expect(200);
      await t.http.patch(`/v1/users/${team.member.id}`).set(team.admin.auth).send({ status: 'disabled' }).expect(200);

      const res = await t.http.get('/v1/users').set(team.member.auth).expect(401);
      expect(res.body).toMatchObject({ code: 'SESSION_ENDED' });
      await t.http.get('/auth/me').set(team.member.auth).expect(401);
      await t.http.post('/auth/refresh').send({ refreshToken: team.member.refreshToken }).expect(401);
      await t.http.post('/auth/login').send({ email: team.member.email, password: team.member.password }).expect(401);

      // Enabling them again lets them sign in afresh, but the old sign-in stays ended.
      await t.http.patch(`/v1/users/${team.member.id}`).set(team.admin.auth).send({ status: 'active' }).expect(200);
      await t.http.get('/v1/users').set(team.member.auth).expect(401);
      const again = await signIn(t, team.member);
      await t.http.get('/v1/users').set(again.auth).expect(200);
      // Other users are not affected.
      await t.http.get('/v1/users').set(team.viewer.auth).expect(200);
    });

    it('a role change takes effect on the next request', async () => {
      const team = await tenantWithRoles(t);
      await t.http
        .post('/v1/users/invitations')
        .set(team.admin.auth)
        .send({ email: `before-${unique()}@example.com`, role: 'member' })
        .expect(201);
      await t.http.patch(`/v1/users/${team.admin.id}`).set(team.owner.auth).send({ role: 'viewer' }).expect(200);
      await t.http
        .post('/v1/users/invitations')
        .set(team.admin.auth)
        .send({ email: `after-${unique()}@example.com`, role: 'member' })
        .expect(403);
    });
  });

  describe('tenant isolation', () => {
    let a: Awaited<ReturnType<typeof tenantWithRoles>>;
    let b: Awaited<ReturnType<typeof tenantWithRoles>>;
    beforeAll(async () => {
      [a, b] = await Promise.all([tenantWithRoles(t), tenantWithRoles(t)]);
    });

    it.each([
      ['a role change', { role: 'viewer' }],
      ['disabling', { status: 'disabled' }],
    ])("an owner of tenant A gets 404 for %s of tenant B's user", async (_, change) => {
      for (const victim of [b.member, b.owner]) {
        const res = await t.http.patch(`/v1/users/${victim.id}`).set(a.owner.auth).send(change).expect(404);
        expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
      }
      const users = await usersOf(b.owner);
      expect(users.get(b.member.id)).toMatchObject({ role: 'member', status: 'active' });
      expect(users.get(b.owner.id)).toMatchObject({ role: 'owner', status: 'active' });
      await t.http.get('/auth/me').set(b.member.auth).expect(200);
    });

    it('GET /v1/users lists only the caller’s tenant', async () => {
      for (const [team, other] of [
        [a, b],
        [b, a],
      ]) {
        const res = await t.http.get('/v1/users').set(team.viewer.auth).expect(200);
        expect(res.body.every((user: { tenantId: string }) => user.tenantId === team.tenant.id)).toBe(true);
        const ids = res.body.map((user: { id: string }) => user.id);
        expect(ids).toEqual(expect.arrayContaining([team.owner.id, team.admin.id, team.member.id, team.viewer.id]));
        for (const stranger of [other.owner, other.admin, other.member, other.viewer])
          expect(ids).not.toContain(stranger.id);
      }
    });

    it('an invitation lands in the inviter’s tenant', async () => {
      const res = await t.http
        .post('/v1/users/invitations')
        .set(a.owner.auth)
        .send({ email: `isolated-${unique()}@example.com`, role: 'viewer' })
        .expect(201);
      expect(res.body.tenantId).toBe(a.tenant.id);
      expect((await usersOf(a.owner)).has(res.body.id)).toBe(true);
      expect((await usersOf(b.owner)).has(res.body.id)).toBe(false);
    });
  });

  describe('mass assignment', () => {
    let a: Awaited<ReturnType<typeof tenantWithRoles>>;
    let other: TestTenant;
    beforeAll(async () => {
      [a, other] = await Promise.all([tenantWithRoles(t), createTenant(t)]);
    });

    it.each([
      ['tenantId', () => ({ tenantId: other.id })],
      ['email', () => ({ email: `renamed-${unique()}@example.com` })],
      ['tenantId beside an allowed role change', () => ({ role: 'viewer', tenantId: other.id })],
      ['email beside an allowed role change', () => ({ role: 'viewer', email: `renamed-${unique()}@example.com` })],
      ['an invited status', () => ({ status: 'invited' })],
      ['a password hash', () => ({ passwordHash: 'x' })],
      ['an id', () => ({ id: randomUUID() })],
    ])('PATCH /v1/users/:id refuses %s with 400 and changes nothing', async (_, body) => {
      const res = await t.http.patch(`/v1/users/${a.member.id}`).set(a.owner.auth).send(body()).expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      const users = await usersOf(a.owner);
      expect(users.get(a.member.id)).toMatchObject({
        tenantId: a.tenant.id,
        email: a.member.email,
        role: 'member',
        status: 'active',
      });
    });

    it.each([
      ['tenantId', () => ({ tenantId: other.id })],
      ['status', () => ({ status: 'active' })],
      ['password', () => ({ password: 'violet tractor forced umbrella' })],
    ])('POST /v1/users/invitations refuses %s with 400 and creates nobody', async (field, extra) => {
      const email = `smuggled-${unique()}@example.com`;
      const body = { email, role: 'member', ...extra() };
      const res = await t.http.post('/v1/users/invitations').set(a.owner.auth).send(body).expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ field })] });
      const users = await usersOf(a.owner);
      expect([...users.values()].map((user) => user.email)).not.toContain(email);
      await t.http.post('/auth/login').send({ email, password: 'violet tractor forced umbrella' }).expect(401);
    });

    it.each([
      ['status and id', { status: 'active', id: randomUUID() }],
      ['status', { status: 'suspended' }],
      ['id', { id: randomUUID() }],
      ['limits', { maxKeysPerUser: 100_000 }],
    ])('POST /admin/tenants refuses %s with 400 and creates nothing', async (_, extra) => {
      const slug = `mass-${unique()}`;
      const res = await t.http
        .post('/admin/tenants')
        .set(adminHeaders)
        .send({ name: 'Mass', slug, ...extra })
        .expect(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      // The slug is still free.
      await t.http.post('/admin/tenants').set(adminHeaders).send({ name: 'Mass', slug }).expect(201);
    });
  });
});
