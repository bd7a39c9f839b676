import { ApiKeyVerifier } from '../src/api-keys/api-key-verifier.service';
import { DataSource } from 'typeorm';
import { InvalidationBus } from '../src/invalidation/invalidation.bus';
import { totpCode } from '../src/mfa/totp';
import { Browser } from './helpers/dashboard';
import { watchMail } from './helpers/mail';
import {
  adminHeaders,
  createTenant,
  createUser,
  SignedIn,
  signIn,
  strongPassword,
  TestTenant,
  TestUser,
} from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';
import { createTestDatabase, describeOnPostgres, dropTestDatabase } from './helpers/test-database';

/**
 * One person (one email, one password) with memberships in two tenants: every sign-in, token,
 * session and key is bound to one tenant, and what happens in one never reaches the other.
 */

type Json = Record<string, any>;

const claimsOf = (token: string): Json => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * A person who is owner of tenant A (with a second owner there) and, after accepting an
 * invitation with their own password, admin of tenant B.
 */
async function personInTwoTenants(t: TestApp) {
  const a = await createTenant(t);
  const b = await createTenant(t);
  const inA = await createUser(t, a.id, 'owner');
  const otherOwnerOfA = await signIn(t, await createUser(t, a.id, 'owner'));
  const ownerOfB = await signIn(t, await createUser(t, b.id, 'owner'));
  const invited = await t.http
    .post(`/admin/tenants/${b.id}/users`)
    .set(adminHeaders)
    .send({ email: inA.email, role: 'admin' })
    .expect(201);
  const token = new URL(invited.body.inviteUrl).searchParams.get('token')!;
  // An existing person accepts with the password they already have; no new one is set.
  await t.http.post('/auth/invitations/accept').send({ token, password: inA.password }).expect(204);
  const inB: TestUser = { ...inA, id: invited.body.id, tenantId: b.id, role: 'admin' };
  return { a, b, inA, inB, otherOwnerOfA, ownerOfB };
}

/** API sign-in to one of the person's tenants. */
async function signInTo(t: TestApp, user: TestUser, tenantId: string): Promise<SignedIn> {
  const res = await t.http
    .post('/auth/login')
    .send({ email: user.email, password: user.password, tenantId })
    .expect(200);
  return { ...user, ...res.body, auth: bearer(res.body.accessToken) };
}

describe('a person in two tenants', () => {
  let t: TestApp;
  let a: TestTenant;
  let b: TestTenant;
  let inA: TestUser;
  let inB: TestUser;
  let ownerOfB: SignedIn;

  beforeAll(async () => {
    t = await createTestApp();
    ({ a, b, inA, inB, ownerOfB } = await personInTwoTenants(t));
  });
  afterAll(() => t.close());

  it('signs in by API only once a tenant is named: 409 TENANT_REQUIRED lists both, and the tokens carry the chosen one', async () => {
    const ask = await t.http.post('/auth/login').send({ email: inA.email, password: inA.password }).expect(409);
    expect(ask.body.code).toBe('TENANT_REQUIRED');
    expect(
      (ask.body.details.tenants as Json[])
        .map(({ id, name, role }) => ({ id, name, role }))
        .sort((x, y) => x.role.localeCompare(y.role)),
    ).toEqual([
      { id: b.id, name: b.name, role: 'admin' },
      { id: a.id, name: a.name, role: 'owner' },
    ]);
    expect(ask.body).not.toHaveProperty('accessToken');

    const toA = await signInTo(t, inA, a.id);
    expect(claimsOf(toA.accessToken)).toMatchObject({ sub: inA.id, tid: a.id, role: 'owner' });
    const toB = await signInTo(t, inB, b.id);
    expect(claimsOf(toB.accessToken)).toMatchObject({ sub: inB.id, tid: b.id, role: 'admin' });
    expect((await t.http.get('/auth/me').set(toA.auth).expect(200)).body.tenant.id).toBe(a.id);
    expect((await t.http.get('/auth/me').set(toB.auth).expect(200)).body.tenant.id).toBe(b.id);

    const tenants = (await t.http.get('/auth/tenants').set(toA.auth).expect(200)).body as Json[];
    expect(
      tenants.map(({ id, current }) => ({ id, current })).sort((x, y) => Number(y.current) - Number(x.current)),
    ).toEqual([
      { id: a.id, current: true },
      { id: b.id, current: false },
    ]);
  });

  it('with an authenticator app: the second step asks for the tenant without spending the code, then opens the one named', async () => {
    const c = await createTenant(t);
    const d = await createTenant(t);
    const inC = await createUser(t, c.id, 'member');
    const invited = await t.http
      .post(`/admin/tenants/${d.id}/users`)
      .set(adminHeaders)
      .send({ email: inC.email, role: 'viewer' })
      .expect(201);
    const token = new URL(invited.body.inviteUrl).searchParams.get('token')!;
    await t.http.post('/auth/invitations/accept').send({ token, password: inC.password }).expect(204);
    const first = await signInTo(t, inC, c.id);
    const { secret } = (await t.http.post('/auth/mfa/totp').set(first.auth).expect(200)).body;
    await t.http
      .post('/auth/mfa/totp/confirm')
      .set(first.auth)
      .send({ code: totpCode(secret, new Date()) })
      .expect(200);

    // The password alone gives a challenge, never tokens, whether or not a tenant is named.
    const step = await t.http.post('/auth/login').send({ email: inC.email, password: inC.password }).expect(200);
    expect(step.body).toMatchObject({ mfa_required: true, challenge: expect.any(String) });
    expect(step.body).not.toHaveProperty('accessToken');
    const code = totpCode(secret, new Date(Date.now() + 30_000));
    const ask = await t.http.post('/auth/login/mfa').send({ challenge: step.body.challenge, code }).expect(409);
    expect(ask.body.code).toBe('TENANT_REQUIRED');
    expect((ask.body.details.tenants as Json[]).map((m) => m.id).sort()).toEqual([c.id, d.id].sort());
    // The same challenge and code still work once the tenant is named, and only once.
    const done = await t.http
      .post('/auth/login/mfa')
      .send({ challenge: step.body.challenge, code, tenantId: d.id })
      .expect(200);
    expect(claimsOf(done.body.accessToken)).toMatchObject({ sub: invited.body.id, tid: d.id, role: 'viewer' });
    await t.http.post('/auth/login/mfa').send({ challenge: step.body.challenge, code, tenantId: d.id }).expect(401);
    // Switching keeps the person signed in without a new second step, in the other tenant.
    const switched = await t.http
      .post('/auth/switch-tenant')
      .set(bearer(done.body.accessToken))
      .send({ tenantId: c.id })
      .expect(200);
    expect(claimsOf(switched.body.accessToken)).toMatchObject({ sub: inC.id, tid: c.id });
  });

  it('in the dashboard with an authenticator app: the second step lands on the tenant chooser, and the browser is known next time', async () => {
    const mail = watchMail(t.app);
    const e = await createTenant(t);
    const f = await createTenant(t);
    const inE = await createUser(t, e.id, 'member');
    const invited = await t.http
      .post(`/admin/tenants/${f.id}/users`)
      .set(adminHeaders)
      .send({ email: inE.email, role: 'member' })
      .expect(201);
    const token = new URL(invited.body.inviteUrl).searchParams.get('token')!;
    await t.http.post('/auth/invitations/accept').send({ token, password: inE.password }).expect(204);
    const api = await signInTo(t, inE, e.id);
    const { secret } = (await t.http.post('/auth/mfa/totp').set(api.auth).expect(200)).body;
    const { recoveryCodes } = (
      await t.http
        .post('/auth/mfa/totp/confirm')
        .set(api.auth)
        .send({ code: totpCode(secret, new Date()) })
        .expect(200)
    ).body;

    const browser = new Browser(t);
    const newDeviceNotices = async () => {
      await mail.delivered();
      return mail.sent().filter((m) => m.to === inE.email && m.subject === 'New sign-in to your Keyward account')
        .length;
    };
    const signInWith = async (answer: Record<string, string>) => {
      await browser.get('/login');
      const password = await browser.post('/login', { email: inE.email, password: inE.password });
      expect([password.status, password.headers.location]).toEqual([303, '/login/mfa']);
      await browser.get('/login/mfa');
      return browser.post('/login/mfa', answer);
    };
    const first = await signInWith({ code: totpCode(secret, new Date(Date.now() + 30_000)) });
    expect([first.status, first.headers.location]).toEqual([303, '/dashboard/tenants']);
    expect((await browser.get('/dashboard/tenants')).status).toBe(200);
    // A browser never seen before, although the API client came from the same address.
    expect(await newDeviceNotices()).toBe(1);
    await browser.post('/logout');

    const second = await signInWith({ recoveryCode: recoveryCodes[0] });
    expect([second.status, second.headers.location]).toEqual([303, '/dashboard/tenants']);
    // The same browser (its device cookie): no new notice.
    expect(await newDeviceNotices()).toBe(1);
  });

  it('switches tenant by API: a pair bound to the other tenant, the old sign-in ends, and each sees only its own keys', async () => {
    const toA = await signInTo(t, inA, a.id);
    const keyA = (await t.http.post('/v1/api-keys').set(toA.auth).send({ name: 'made in A' }).expect(201)).body;
    const toB = await signInTo(t, inB, b.id);
    const keyB = (await t.http.post('/v1/api-keys').set(toB.auth).send({ name: 'made in B' }).expect(201)).body;

    const switched = await t.http.post('/auth/switch-tenant').set(toA.auth).send({ tenantId: b.id }).expect(200);
    expect(claimsOf(switched.body.accessToken)).toMatchObject({ sub: inB.id, tid: b.id, role: 'admin' });
    expect((await t.http.get('/auth/me').set(toA.auth).expect(401)).body.code).toBe('SESSION_ENDED');
    await t.http.post('/auth/refresh').send({ refreshToken: toA.refreshToken }).expect(401);

    const names = async (auth: Json, path: string) => {
      const body = (await t.http.get(path).set(auth).expect(200)).body;
      return ((Array.isArray(body) ? body : body.items) as Json[]).map((key) => key.name).sort();
    };
    const inBNow = bearer(switched.body.accessToken);
    expect(await names(inBNow, '/v1/api-keys')).toEqual(['made in B']);
    expect(await names(inBNow, '/auth/api-key/list')).toEqual(['made in B']);
    const backInA = await t.http.post('/auth/switch-tenant').set(inBNow).send({ tenantId: a.id }).expect(200);
    expect(await names(bearer(backInA.body.accessToken), '/v1/api-keys')).toEqual(['made in A']);
    expect(await names(bearer(backInA.body.accessToken), '/auth/api-key/list')).toEqual(['made in A']);
    expect(keyA.id).not.toBe(keyB.id);

    // A tenant that is not theirs is refused, and the caller's sign-in is left as it was.
    const stranger = await createTenant(t);
    const refused = await t.http
      .post('/auth/switch-tenant')
      .set(bearer(backInA.body.accessToken))
      .send({ tenantId: stranger.id })
      .expect(409);
    expect(refused.body.code).toBe('TENANT_REQUIRED');
    await t.http.get('/auth/me').set(bearer(backInA.body.accessToken)).expect(200);
  });

  it('switches tenant in the dashboard: the chooser after sign-in, the keys page shows only that tenant’s keys', async () => {
    const toA = await signInTo(t, inA, a.id);
    await t.http.post('/v1/api-keys').set(toA.auth).send({ name: 'dashboard A key' }).expect(201);
    const toB = await signInTo(t, inB, b.id);
    await t.http.post('/v1/api-keys').set(toB.auth).send({ name: 'dashboard B key' }).expect(201);

    const browser = new Browser(t);
    const signedIn = await browser.signIn(inA);
    expect(signedIn.headers.location).toBe('/dashboard/tenants');
    const chooser = await browser.get('/dashboard/tenants');
    expect(chooser.status).toBe(200);
    expect(chooser.text).toContain(a.name);
    expect(chooser.text).toContain(b.name);

    const open = async (tenantId: string) => {
      const res = await browser.post('/dashboard/tenants', { tenantId });
      expect([res.status, res.headers.location]).toEqual([303, '/dashboard']);
      const keys = await browser.get('/dashboard/keys');
      expect(keys.status).toBe(200);
      return keys.text;
    };
    const pageA = await open(a.id);
    expect(pageA).toContain('dashboard A key');
    expect(pageA).not.toContain('dashboard B key');
    const pageB = await open(b.id);
    expect(pageB).toContain('dashboard B key');
    expect(pageB).not.toContain('dashboard A key');

    const stranger = await createTenant(t);
    expect((await browser.post('/dashboard/tenants', { tenantId: stranger.id })).status).toBe(400);
  });

  it('a key made in tenant A is refused in tenant B’s routes, and tells B’s verifier no more than an unknown key', async () => {
    const toA = await signInTo(t, inA, a.id);
    const keyA = (
      await t.http
        .post('/v1/api-keys')
        .set(toA.auth)
        .send({ name: 'only for A', scopes: ['keys:read', 'keys:write', 'config:read'] })
        .expect(201)
    ).body;
    const toB = await signInTo(t, inB, b.id);

    // The person's tenant-B sign-in cannot reach A's key by id, in any route.
    const inBRoutes = {
      get: (await t.http.get(`/v1/api-keys/${keyA.id}`).set(toB.auth)).status,
      patch: (await t.http.patch(`/v1/api-keys/${keyA.id}`).set(toB.auth).send({ name: 'taken over' })).status,
      rotate: (await t.http.post(`/v1/api-keys/${keyA.id}/rotate`).set(toB.auth).send({})).status,
      revoke: (await t.http.delete(`/v1/api-keys/${keyA.id}`).set(toB.auth)).status,
      usage: (await t.http.get(`/v1/api-keys/${keyA.id}/usage`).set(toB.auth)).status,
      revokeOwn: (await t.http.post('/auth/api-key/revoke').set(toB.auth).send({ key: keyA.apiKey })).status,
    };
    expect(inBRoutes).toEqual({ get: 404, patch: 404, rotate: 404, revoke: 404, usage: 404, revokeOwn: 404 });

    // The key itself acts in A only: its caller is tenant A, and B's data is not listed to it.
    expect((await t.http.get('/auth/me').set('x-api-key', keyA.apiKey).expect(200)).body.tenant.id).toBe(a.id);
    const namesFor = async (auth: Json) =>
      ((await t.http.get('/v1/api-keys').set(auth).expect(200)).body.items as Json[]).map((key) => key.name).sort();
    const seenByKey = await namesFor({ 'x-api-key': keyA.apiKey });
    expect(seenByKey).toEqual(await namesFor(toA.auth));
    expect(seenByKey).toContain('only for A');
    expect(await namesFor(toB.auth)).not.toContain('only for A');
    for (const name of await namesFor(toB.auth)) expect(seenByKey).not.toContain(name);

    // Tenant B's verifier: A's key answers exactly as a key that does not exist.
    const verifier = (
      await t.http
        .post('/v1/api-keys')
        .set(ownerOfB.auth)
        .send({ name: 'B verifier', scopes: ['keys:verify'] })
        .expect(201)
    ).body.apiKey as string;
    const verify = async (key: string) =>
      (await t.http.post('/v1/keys/verify').set('x-api-key', verifier).send({ key }).expect(200)).body;
    const unknown = t.app.get(ApiKeyVerifier).format.generate();
    const withoutRequestId = ({ requestId: _, ...rest }: Json) => rest;
    const fromA = await verify(keyA.apiKey);
    expect(fromA).toMatchObject({ valid: false, code: 'KEY_NOT_FOUND' });
    expect(withoutRequestId(fromA)).toEqual(withoutRequestId(await verify(unknown)));

    // And the key still works in A: nothing above touched it.
    expect((await t.http.get(`/v1/api-keys/${keyA.id}`).set(toA.auth).expect(200)).body.name).toBe('only for A');
  });
});

/** Instances of one deployment share their secrets (see two-instances.e2e-spec.ts). */
const SHARED_SECRETS = {
  JWT_SECRET: 'people-two-instances-jwt-secret-0123456789abcdef',
  KEY_PEPPER: 'people-two-instances-key-pepper-0123456789abcdef',
  CONFIG_ENCRYPTION_KEY: 'ef'.repeat(32),
};

describeOnPostgres('removal from a tenant, seen by another instance', () => {
  let databaseName: string | undefined;
  let one!: TestApp;
  let two!: TestApp;

  beforeAll(async () => {
    databaseName = await createTestDatabase();
    one = await createTestApp({ reuseDatabase: { name: databaseName }, env: SHARED_SECRETS });
    two = await createTestApp({ reuseDatabase: { name: databaseName }, env: SHARED_SECRETS });
  });
  afterAll(async () => {
    await one?.close().catch(() => undefined);
    await two?.close().catch(() => undefined);
    if (databaseName) await dropTestDatabase(databaseName);
  });

  it('ends the person’s sessions and keys in A at once on the other instance, and leaves their tenant B alone', async () => {
    const { a, b, inA, inB, otherOwnerOfA } = await personInTwoTenants(one);
    const apiA = await signInTo(one, inA, a.id);
    const apiB = await signInTo(one, inB, b.id);
    const keyA = (
      await one.http
        .post('/v1/api-keys')
        .set(apiA.auth)
        .send({ name: 'A key', scopes: ['keys:read'] })
        .expect(201)
    ).body.apiKey as string;
    const keyB = (
      await one.http
        .post('/v1/api-keys')
        .set(apiB.auth)
        .send({ name: 'B key', scopes: ['keys:read'] })
        .expect(201)
    ).body.apiKey as string;
    // A dashboard session in A, opened on instance one and then used on instance two.
    const browserOne = new Browser(one);
    await browserOne.signIn(inA);
    await browserOne.get('/dashboard/tenants');
    await browserOne.post('/dashboard/tenants', { tenantId: a.id });
    const browserTwo = new Browser(two);
    for (const [name, value] of browserOne.cookies) browserTwo.cookies.set(name, value);

    // Instance two checks each of them once, and so holds them in its caches.
    expect((await two.http.get('/auth/me').set(apiA.auth).expect(200)).body.tenant.id).toBe(a.id);
    expect((await two.http.get('/auth/me').set('x-api-key', keyA).expect(200)).body.tenant.id).toBe(a.id);
    expect((await two.http.get('/auth/me').set(apiB.auth).expect(200)).body.tenant.id).toBe(b.id);
    expect((await browserTwo.get('/dashboard')).status).toBe(200);

    const heard = new Promise<void>((resolve) =>
      two.app
        .get(InvalidationBus)
        .subscribe((change) => change.kind === 'user' && change.userId === inA.id && resolve()),
    );
    await one.http.delete(`/v1/users/${inA.id}`).set(otherOwnerOfA.auth).expect(204);
    const removedAt = Date.now();
    // Instance one refuses at once.
    expect((await one.http.get('/auth/me').set(apiA.auth).expect(401)).body.code).toBe('SESSION_ENDED');
    await heard;
    // Instance two's very next answers reflect it: no cached check survives.
    const meA = await two.http.get('/auth/me').set(apiA.auth);
    const keyAOnTwo = await two.http.get('/auth/me').set('x-api-key', keyA);
    const dashboardOnTwo = await browserTwo.get('/dashboard');
    const elapsed = Date.now() - removedAt;
    expect([meA.status, meA.body.code]).toEqual([401, 'SESSION_ENDED']);
    expect(keyAOnTwo.status).toBe(401);
    expect(dashboardOnTwo.status).toBe(303);
    expect(dashboardOnTwo.headers.location).toMatch(/^\/login/);
    expect(elapsed).toBeLessThan(1000);
    await two.http.post('/auth/refresh').send({ refreshToken: apiA.refreshToken }).expect(401);

    // Tenant B: the same person's session and key go on working, on both instances.
    for (const app of [one, two]) {
      expect((await app.http.get('/auth/me').set(apiB.auth).expect(200)).body.tenant.id).toBe(b.id);
      expect((await app.http.get('/auth/me').set('x-api-key', keyB).expect(200)).body.tenant.id).toBe(b.id);
    }
    // Signing in now opens B, the only tenant left; A is refused.
    const again = await two.http.post('/auth/login').send({ email: inA.email, password: inA.password }).expect(200);
    expect(claimsOf(again.body.accessToken).tid).toBe(b.id);
    const refused = await two.http
      .post('/auth/login')
      .send({ email: inA.email, password: inA.password, tenantId: a.id })
      .expect(409);
    expect(refused.body.details.tenants.map((m: Json) => m.id)).toEqual([b.id]);
  });
});

describe('email change', () => {
  let t: TestApp;
  let mail: ReturnType<typeof watchMail>;

  beforeAll(async () => {
    t = await createTestApp();
    mail = watchMail(t.app);
  });
  afterAll(() => t.close());

  /** The mail sent to each address since `from`, by subject. */
  const mailSince = async (from: number) => {
    await mail.delivered();
    return mail
      .sent()
      .slice(from)
      .map((m) => ({ to: m.to, subject: m.subject, text: m.text }));
  };

  it('moves the person to the new address by a link mailed there, tells the old one, and works in every tenant', async () => {
    const { inA, inB, a, b } = await personInTwoTenants(t);
    const signedIn = await signInTo(t, inA, a.id);
    const newEmail = `moved-${Date.now()}@example.com`;
    const before = mail.sent().length;
    const wrong = await t.http
      .post('/auth/email')
      .set(signedIn.auth)
      .send({ newEmail, currentPassword: strongPassword() })
      .expect(400);
    expect(wrong.body.code).toBe('INVALID_CURRENT_PASSWORD');
    expect(await mailSince(before)).toEqual([]);

    await t.http.post('/auth/email').set(signedIn.auth).send({ newEmail, currentPassword: inA.password }).expect(202);
    const sent = await mailSince(before);
    expect(sent.map(({ to, subject }) => [to, subject]).sort()).toEqual(
      [
        [newEmail, 'Confirm your new Keyward email address'],
        [inA.email, 'A change of your Keyward email address was requested'],
      ].sort(),
    );
    const link = /\/email\/confirm\?token=(\S+)/.exec(sent.find((m) => m.to === newEmail)!.text)!;
    expect(sent.find((m) => m.to === inA.email)!.text).not.toContain(link[1]);
    // Nothing changed yet: the old address still signs in.
    await t.http.post('/auth/login').send({ email: inA.email, password: inA.password, tenantId: a.id }).expect(200);

    const confirmedAt = mail.sent().length;
    await t.http
      .post('/auth/email/confirm')
      .send({ token: decodeURIComponent(link[1]) })
      .expect(204);
    expect((await mailSince(confirmedAt)).map(({ to, subject }) => [to, subject])).toEqual([
      [inA.email, 'Your Keyward email address was changed'],
    ]);
    const [moved] = (await t.app
      .get(DataSource)
      .query('SELECT email_verified_at FROM people WHERE email = $1', [newEmail])) as Json[];
    expect(moved.email_verified_at).toBeInstanceOf(Date);
    // The link works once; the person signs in with the new address only, to either tenant.
    await t.http
      .post('/auth/email/confirm')
      .send({ token: decodeURIComponent(link[1]) })
      .expect(400);
    await t.http.post('/auth/login').send({ email: inA.email, password: inA.password, tenantId: a.id }).expect(401);
    for (const [tenantId, id] of [
      [a.id, inA.id],
      [b.id, inB.id],
    ]) {
      const res = await t.http
        .post('/auth/login')
        .send({ email: newEmail, password: inA.password, tenantId })
        .expect(200);
      expect(claimsOf(res.body.accessToken)).toMatchObject({ sub: id, tid: tenantId });
    }
  });

  it('counts an address as verified only once a link mailed to it was followed (an invitation; the email change test checks its own)', async () => {
    const verifiedAt = async (email: string) =>
      (
        (await t.app.get(DataSource).query('SELECT email_verified_at FROM people WHERE email = $1', [email])) as Json[]
      )[0].email_verified_at as Date | null;
    const tenant = await createTenant(t);
    // Made by the operator with a password: nothing proved the address yet.
    const operatorMade = await createUser(t, tenant.id, 'member');
    expect(await verifiedAt(operatorMade.email)).toBeNull();
    // Invited (no password): choosing one through the mailed link verifies it.
    const email = `invited-${Date.now()}@example.com`;
    const invited = await t.http
      .post(`/admin/tenants/${tenant.id}/users`)
      .set(adminHeaders)
      .send({ email, role: 'viewer' })
      .expect(201);
    expect(await verifiedAt(email)).toBeNull();
    const token = new URL(invited.body.inviteUrl).searchParams.get('token')!;
    await t.http.post('/auth/invitations/accept').send({ token, password: strongPassword() }).expect(204);
    expect(await verifiedAt(email)).toBeInstanceOf(Date);
    // The operator-made person's address is verified by their next mailed link, here an invitation elsewhere.
    const elsewhere = await createTenant(t);
    const second = await t.http
      .post(`/admin/tenants/${elsewhere.id}/users`)
      .set(adminHeaders)
      .send({ email: operatorMade.email, role: 'viewer' })
      .expect(201);
    await t.http
      .post('/auth/invitations/accept')
      .send({ token: new URL(second.body.inviteUrl).searchParams.get('token')!, password: operatorMade.password })
      .expect(204);
    expect(await verifiedAt(operatorMade.email)).toBeInstanceOf(Date);
  });

  it('answers the same for an address that is someone’s, which is told instead, and changes nothing', async () => {
    const tenant = await createTenant(t);
    const user = await signIn(t, await createUser(t, tenant.id, 'member'));
    const someoneElse = await createUser(t, (await createTenant(t)).id, 'viewer');
    const free = await t.http
      .post('/auth/email')
      .set(user.auth)
      .send({ newEmail: `free-${Date.now()}@example.com`, currentPassword: user.password })
      .expect(202);
    const before = mail.sent().length;
    const taken = await t.http
      .post('/auth/email')
      .set(user.auth)
      .send({ newEmail: someoneElse.email, currentPassword: user.password })
      .expect(202);
    const { requestId: _a, ...freeBody } = free.body;
    const { requestId: _b, ...takenBody } = taken.body;
    expect(takenBody).toEqual(freeBody);
    const sent = await mailSince(before);
    expect(sent.map(({ to, subject }) => [to, subject]).sort()).toEqual(
      [
        [someoneElse.email, 'Your address was given for a Keyward account'],
        [user.email, 'A change of your Keyward email address was requested'],
      ].sort(),
    );
    expect(sent.some((m) => /token=/.test(m.text))).toBe(false);
    await t.http.post('/auth/login').send({ email: user.email, password: user.password }).expect(200);
    await t.http.post('/auth/login').send({ email: someoneElse.email, password: someoneElse.password }).expect(200);
  });
});
