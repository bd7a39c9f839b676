import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { DataSource } from 'typeorm';
import { JWT_AUDIENCE, JWT_ISSUER } from '../src/auth/access-token';
import { ACCOUNT_CEILING_FACTOR } from '../src/auth/auth.service';
import { OneTimeTokensService } from '../src/auth/one-time-tokens.service';
import { Clock } from '../src/common/clock';
import { SessionsService } from '../src/sessions/sessions.service';
import {
  adminHeaders,
  createTenant,
  createUser,
  signIn,
  SignedIn,
  strongPassword,
  tenantWithRoles,
  TestUser,
} from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';
import { sharedDatabase } from './helpers/test-database';

// The real argon2, watched: a sign-in for an unknown account must still run one full verify.
jest.mock('argon2', () => {
  const real = jest.requireActual<typeof import('argon2')>('argon2');
  return { ...real, verify: jest.fn(real.verify) };
});
const argon2Verify = jest.requireMock<{ verify: jest.Mock<Promise<boolean>, [string, string]> }>('argon2').verify;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface AccessClaims {
  sub: string;
  tid: string;
  sid: string;
  role: string;
  iss: string;
  aud: string;
  iat: number;
  exp: number;
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HMAC-signed JWT built by hand, so every part of it can be chosen. */
function signJwt(claims: object, secret: string, { alg = 'HS256', hash = 'sha256' } = {}): string {
  const unsigned = `${base64url({ alg, typ: 'JWT' })}.${base64url(claims)}`;
  return `${unsigned}.${createHmac(hash, secret).update(unsigned).digest('base64url')}`;
}

function claimsOf(token: string): AccessClaims {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

function headerOf(token: string): { alg: string } {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function withoutRequestId(body: Record<string, unknown>): Record<string, unknown> {
  const { requestId: _requestId, ...rest } = body;
  return rest;
}

/** POSTs JSON from a chosen local address (the app trusts no proxy, so this is the client IP it sees). */
function postFrom(
  baseUrl: string,
  path: string,
  body: object,
  localAddress: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: any }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(path, baseUrl),
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('authentication', () => {
  let t: TestApp;
  let clock: Clock;

  const me = (token: string) => t.http.get('/auth/me').set(bearer(token));
  const login = (body: object) => t.http.post('/auth/login').send(body);

  /** Moves the injectable clock to `at` for the rest of the test. */
  const setNow = (at: Date | number) => jest.spyOn(clock, 'now').mockImplementation(() => new Date(at));

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    clock = t.app.get(Clock);
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  describe('sign-in', () => {
    let user: TestUser;
    beforeAll(async () => {
      user = await createUser(t, (await createTenant(t)).id, 'member');
    });

    it('by email answers a Bearer token pair whose access token works on /auth/me', async () => {
      const res = await login({ email: user.email, password: user.password }).expect(200);
      expect(res.body).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: t.config.accessTokenTtlSeconds,
      });
      expect(res.body.refreshToken).not.toBe(res.body.accessToken);
      expect(res.body.refreshToken.length).toBeGreaterThanOrEqual(43);

      expect(headerOf(res.body.accessToken).alg).toBe('HS256');
      const claims = claimsOf(res.body.accessToken);
      expect(claims).toMatchObject({
        sub: user.id,
        tid: user.tenantId,
        sid: expect.stringMatching(/^[0-9a-f-]{36}$/),
        role: 'member',
        iss: JWT_ISSUER,
        aud: JWT_AUDIENCE,
      });
      expect(claims.exp - claims.iat).toBe(t.config.accessTokenTtlSeconds);

      const who = await me(res.body.accessToken).expect(200);
      expect(who.body).toMatchObject({
        kind: 'user',
        user: { id: user.id, email: user.email, role: 'member', status: 'active' },
        tenant: { id: user.tenantId },
        role: 'member',
      });
    });

    it('accepts `username` as an alias of email', async () => {
      const res = await login({ username: user.email, password: user.password }).expect(200);
      const who = await me(res.body.accessToken).expect(200);
      expect(who.body.user.id).toBe(user.id);
    });

    it('treats the email case-insensitively (and trims it)', async () => {
      const shouted = ` ${user.email.toUpperCase()} `;
      const byEmail = await login({ email: shouted, password: user.password }).expect(200);
      expect(claimsOf(byEmail.body.accessToken).sub).toBe(user.id);
      const byUsername = await login({ username: user.email.toUpperCase(), password: user.password }).expect(200);
      expect(claimsOf(byUsername.body.accessToken).sub).toBe(user.id);
    });

    it('gives every sign-in its own session', async () => {
      const a = await login({ email: user.email, password: user.password }).expect(200);
      const b = await login({ email: user.email, password: user.password }).expect(200);
      expect(claimsOf(a.body.accessToken).sid).not.toBe(claimsOf(b.body.accessToken).sid);
      expect(a.body.refreshToken).not.toBe(b.body.refreshToken);
    });

    it.each([
      ['tenant', { tenant: randomUUID() }],
      ['role', { role: 'owner' }],
      ['userId and status', { userId: randomUUID(), status: 'active' }],
    ])('refuses extra body fields (%s) with 400 VALIDATION_FAILED', async (_, extra) => {
      const res = await login({ email: user.email, password: user.password, ...extra }).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED' });
      expect(res.body.details.map((d: { field: string }) => d.field).sort()).toEqual(Object.keys(extra).sort());
      expect(res.body).not.toHaveProperty('accessToken');
    });

    it('refuses a tenantId that is not one of the person’s tenants with 409 TENANT_REQUIRED, listing their own; a malformed one with 400', async () => {
      const other = await createTenant(t);
      const res = await login({ email: user.email, password: user.password, tenantId: other.id }).expect(409);
      expect(res.body).toMatchObject({
        code: 'TENANT_REQUIRED',
        details: { tenants: [{ id: user.tenantId, name: expect.any(String), role: user.role }] },
      });
      expect(res.body).not.toHaveProperty('accessToken');
      const malformed = await login({ email: user.email, password: user.password, tenantId: 'nope' }).expect(400);
      expect(malformed.body.details.map((d: { field: string }) => d.field)).toEqual(['tenantId']);
      await login({ email: user.email, password: user.password, tenantId: user.tenantId }).expect(200);
    });

    it('refuses a body without an email or username', async () => {
      const res = await login({ password: user.password }).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('enumeration safety', () => {
    let tenantId: string;
    let user: TestUser;
    beforeAll(async () => {
      tenantId = (await createTenant(t)).id;
      user = await createUser(t, tenantId, 'member');
    });

    it('an unknown email and a wrong password get the same status and body', async () => {
      const wrong = await login({ email: user.email, password: strongPassword() });
      const unknown = await login({
        email: `nobody-${randomBytes(4).toString('hex')}@example.com`,
        password: user.password,
      });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body).toMatchObject({ statusCode: 401, code: 'INVALID_CREDENTIALS' });
      expect(withoutRequestId(unknown.body)).toEqual(withoutRequestId(wrong.body));
      expect(Object.keys(unknown.headers).sort()).toEqual(Object.keys(wrong.headers).sort());
    });

    it('an unknown email costs a full argon2 verify, like a wrong password (checked against a dummy hash)', async () => {
      const known = await createUser(t, tenantId, 'viewer');
      const unknownEmail = `ghost-${randomBytes(4).toString('hex')}@example.com`;
      /** The argon2 checks one failed sign-in ran, each with the cost parameters of its hash. */
      const verifiesOf = async (email: string) => {
        argon2Verify.mockClear();
        await login({ email, password: 'not the password at all' }).expect(401);
        await Promise.all(argon2Verify.mock.results.map((result) => result.value));
        return argon2Verify.mock.calls.map(([hash, password]) => ({
          params: /^\$argon2id\$v=19\$([^$]+)\$/.exec(hash)?.[1],
          password,
        }));
      };
      const wrong = await verifiesOf(known.email);
      expect(wrong).toEqual([{ params: 'm=19456,p=1,t=2', password: 'not the password at all' }]);
      expect(await verifiesOf(unknownEmail)).toEqual(wrong);
    });

    it('a disabled user with the right password gets the same 401 as a wrong password', async () => {
      const owner = await signIn(t, await createUser(t, tenantId, 'owner'));
      const disabled = await createUser(t, tenantId, 'member');
      await login({ email: disabled.email, password: disabled.password }).expect(200);
      await t.http.patch(`/v1/users/${disabled.id}`).set(owner.auth).send({ status: 'disabled' }).expect(200);

      const refused = await login({ email: disabled.email, password: disabled.password }).expect(401);
      const wrong = await login({ email: owner.email, password: strongPassword() }).expect(401);
      expect(withoutRequestId(refused.body)).toEqual(withoutRequestId(wrong.body));
    });
  });

  describe('refresh token rotation', () => {
    let user: TestUser;
    beforeAll(async () => {
      user = await createUser(t, (await createTenant(t)).id, 'member');
    });

    it('trades a refresh token for a new working pair, once', async () => {
      const first = await signIn(t, user);
      const res = await t.http.post('/auth/refresh').send({ refreshToken: first.refreshToken }).expect(200);
      expect(res.body).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: t.config.accessTokenTtlSeconds,
      });
      expect(res.body.refreshToken).not.toBe(first.refreshToken);
      expect(claimsOf(res.body.accessToken)).toMatchObject({
        sub: user.id,
        tid: user.tenantId,
        sid: claimsOf(first.accessToken).sid,
      });
      await me(res.body.accessToken).expect(200);

      const second = await t.http.post('/auth/refresh').send({ refreshToken: res.body.refreshToken }).expect(200);
      await me(second.body.accessToken).expect(200);
    });

    it('reusing a spent refresh token answers REFRESH_TOKEN_REUSED and ends the whole session', async () => {
      const first = await signIn(t, user);
      const other = await signIn(t, user);
      const next = (await t.http.post('/auth/refresh').send({ refreshToken: first.refreshToken }).expect(200)).body;
      // Warm the session check cache, so the revocation must clear it.
      await me(first.accessToken).expect(200);
      await me(next.accessToken).expect(200);

      const replay = await t.http.post('/auth/refresh').send({ refreshToken: first.refreshToken }).expect(401);
      expect(replay.body).toMatchObject({ statusCode: 401, code: 'REFRESH_TOKEN_REUSED' });

      const again = await t.http.post('/auth/refresh').send({ refreshToken: next.refreshToken }).expect(401);
      expect(again.body.code).toBe('REFRESH_TOKEN_INVALID');
      await me(next.accessToken).expect(401);
      await me(first.accessToken).expect(401);
      // Only that session: the user's other sign-in is untouched.
      await me(other.accessToken).expect(200);
      await t.http.post('/auth/refresh').send({ refreshToken: other.refreshToken }).expect(200);
    });

    it('refuses an unknown refresh token with 401 REFRESH_TOKEN_INVALID', async () => {
      const res = await t.http
        .post('/auth/refresh')
        .send({ refreshToken: `kwr_${randomBytes(32).toString('base64url')}` })
        .expect(401);
      expect(res.body.code).toBe('REFRESH_TOKEN_INVALID');
    });

    it('refuses an access token used as a refresh token', async () => {
      const signed = await signIn(t, user);
      await t.http.post('/auth/refresh').send({ refreshToken: signed.accessToken }).expect(401);
    });
  });

  describe('access tokens stop working', () => {
    it('after logout (and its refresh token with it)', async () => {
      const user = await signIn(t, await createUser(t, (await createTenant(t)).id, 'member'));
      await me(user.accessToken).expect(200);
      await t.http.post('/auth/logout').set(user.auth).expect(204);
      const res = await me(user.accessToken).expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, code: 'SESSION_ENDED' });
      await t.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);
      await t.http.post('/auth/logout').set(user.auth).expect(401);
    });

    it('after a password change, for every other session, while the one that changed it keeps working', async () => {
      const created = await createUser(t, (await createTenant(t)).id, 'member');
      const changer = await signIn(t, created);
      const other = await signIn(t, created);
      await me(other.accessToken).expect(200);

      const newPassword = strongPassword();
      await t.http
        .post('/auth/password')
        .set(changer.auth)
        .send({ currentPassword: created.password, newPassword })
        .expect(204);

      await me(other.accessToken).expect(401);
      await t.http.post('/auth/refresh').send({ refreshToken: other.refreshToken }).expect(401);
      await me(changer.accessToken).expect(200);
      await t.http.post('/auth/refresh').send({ refreshToken: changer.refreshToken }).expect(200);
    });

    it('after a password reset, for every session', async () => {
      const created = await createUser(t, (await createTenant(t)).id, 'member');
      const a = await signIn(t, created);
      const b = await signIn(t, created);
      await me(a.accessToken).expect(200);
      await me(b.accessToken).expect(200);

      await t.http.post('/auth/password/forgot').send({ email: created.email }).expect(202);
      const token = await t.app
        .get(OneTimeTokensService)
        .issue('password_reset', { id: created.id, tenantId: created.tenantId }, null);
      const newPassword = strongPassword();
      await t.http.post('/auth/password/reset').send({ token, newPassword }).expect(204);

      await me(a.accessToken).expect(401);
      await me(b.accessToken).expect(401);
      await t.http.post('/auth/refresh').send({ refreshToken: a.refreshToken }).expect(401);
      await login({ email: created.email, password: created.password }).expect(401);
      await login({ email: created.email, password: newPassword }).expect(200);
      // The reset token works once.
      await t.http.post('/auth/password/reset').send({ token, newPassword: strongPassword() }).expect(400);
    });

    it('when the user is disabled', async () => {
      const { owner, member } = await tenantWithRoles(t);
      await me(member.accessToken).expect(200);
      await t.http.patch(`/v1/users/${member.id}`).set(owner.auth).send({ status: 'disabled' }).expect(200);
      await me(member.accessToken).expect(401);
      await t.http.post('/auth/refresh').send({ refreshToken: member.refreshToken }).expect(401);
      await me(owner.accessToken).expect(200);
    });

    it('while the tenant is suspended, and work again once it is active (suspension revokes nothing)', async () => {
      const { tenant, member } = await tenantWithRoles(t);
      const other = await tenantWithRoles(t);
      await me(member.accessToken).expect(200);

      await t.http.patch(`/admin/tenants/${tenant.id}`).set(adminHeaders).send({ status: 'suspended' }).expect(200);
      await me(member.accessToken).expect(401);
      await me(other.member.accessToken).expect(200);
      const refused = await login({ email: member.email, password: member.password }).expect(401);
      expect(refused.body.code).toBe('INVALID_CREDENTIALS');

      await t.http.patch(`/admin/tenants/${tenant.id}`).set(adminHeaders).send({ status: 'active' }).expect(200);
      await me(member.accessToken).expect(200);
      await t.http.post('/auth/refresh').send({ refreshToken: member.refreshToken }).expect(200);
      await login({ email: member.email, password: member.password }).expect(200);
    });

    it('a refresh refused during a suspension does not cost the session its refresh token', async () => {
      const { tenant, member } = await tenantWithRoles(t);
      await t.http.patch(`/admin/tenants/${tenant.id}`).set(adminHeaders).send({ status: 'suspended' }).expect(200);
      const refused = await t.http.post('/auth/refresh').send({ refreshToken: member.refreshToken }).expect(401);
      expect(refused.body.code).toBe('REFRESH_TOKEN_INVALID');
      await t.http.patch(`/admin/tenants/${tenant.id}`).set(adminHeaders).send({ status: 'active' }).expect(200);
      const res = await t.http.post('/auth/refresh').send({ refreshToken: member.refreshToken }).expect(200);
      await me(res.body.accessToken).expect(200);
    });
  });

  describe('forged and malformed access tokens', () => {
    let user: SignedIn;
    let good: AccessClaims;
    beforeAll(async () => {
      user = await signIn(t, await createUser(t, (await createTenant(t)).id, 'member'));
      good = claimsOf(user.accessToken);
    });

    it('a hand-signed token with the right secret and claims is accepted (so the refusals below are about what was changed)', async () => {
      await me(signJwt(good, t.config.jwtSecret)).expect(200);
    });

    it.each<[string, () => string]>([
      ['alg none', () => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(good)}.`],
      [
        'alg none with the original signature',
        () => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(good)}.${user.accessToken.split('.')[2]}`,
      ],
      ['HS512 with the right secret', () => signJwt(good, t.config.jwtSecret, { alg: 'HS512', hash: 'sha512' })],
      ['a wrong audience', () => signJwt({ ...good, aud: 'someone-else' }, t.config.jwtSecret)],
      ['no audience', () => signJwt({ ...good, aud: undefined }, t.config.jwtSecret)],
      ['a wrong issuer', () => signJwt({ ...good, iss: 'not-keyward' }, t.config.jwtSecret)],
      [
        'an exp in the past',
        () => signJwt({ ...good, iat: good.iat - 3600, exp: Math.floor(Date.now() / 1000) - 60 }, t.config.jwtSecret),
      ],
      ['another secret', () => signJwt(good, randomBytes(32).toString('base64url'))],
      [
        'a different sub with the original signature',
        () =>
          `${user.accessToken.split('.')[0]}.${base64url({ ...good, sub: randomUUID() })}.${user.accessToken.split('.')[2]}`,
      ],
      [
        'a different role with the original signature',
        () =>
          `${user.accessToken.split('.')[0]}.${base64url({ ...good, role: 'owner' })}.${user.accessToken.split('.')[2]}`,
      ],
      ['a correctly signed different sub', () => signJwt({ ...good, sub: randomUUID() }, t.config.jwtSecret)],
      [
        'a correctly signed sid of a session that does not exist',
        () => signJwt({ ...good, sid: randomUUID() }, t.config.jwtSecret),
      ],
      ['a correctly signed tid of another tenant', () => signJwt({ ...good, tid: randomUUID() }, t.config.jwtSecret)],
      ['a correctly signed sid that is not a uuid', () => signJwt({ ...good, sid: "' OR 1=1 --" }, t.config.jwtSecret)],
      ['garbage', () => 'not.a.jwt'],
      ['random bytes', () => randomBytes(48).toString('base64url')],
      ['the token cut short', () => user.accessToken.slice(0, -5)],
    ])('are refused with 401: %s', async (_, forge) => {
      const res = await me(forge()).expect(401);
      expect(res.body).toMatchObject({
        statusCode: 401,
        code: expect.stringMatching(/^(TOKEN_INVALID|TOKEN_EXPIRED|SESSION_ENDED)$/),
      });
      expect(res.body).not.toHaveProperty('user');
    });

    it('an expired token says so', async () => {
      const res = await me(signJwt({ ...good, exp: Math.floor(Date.now() / 1000) - 60 }, t.config.jwtSecret)).expect(
        401,
      );
      expect(res.body.code).toBe('TOKEN_EXPIRED');
    });

    it('no Authorization header answers 401 UNAUTHENTICATED', async () => {
      const res = await t.http.get('/auth/me').expect(401);
      expect(res.body).toMatchObject({ statusCode: 401, code: 'UNAUTHENTICATED' });
      await t.http.post('/auth/logout').expect(401);
    });

    it('the refresh token is not an access token', async () => {
      await me(user.refreshToken).expect(401);
    });
  });

  describe('sessions list and revocation', () => {
    it('lists the caller’s sessions with exactly one marked current, and revokes another of them', async () => {
      const tenant = await createTenant(t);
      const created = await createUser(t, tenant.id, 'member');
      const here = await signIn(t, created);
      const there = await signIn(t, created);
      const hereId = claimsOf(here.accessToken).sid;
      const thereId = claimsOf(there.accessToken).sid;

      const list = await t.http.get('/auth/sessions').set(here.auth).expect(200);
      expect(list.body.map((s: { id: string }) => s.id).sort()).toEqual([hereId, thereId].sort());
      expect(list.body.filter((s: { current: boolean }) => s.current)).toEqual([
        expect.objectContaining({ id: hereId, kind: 'api', current: true }),
      ]);
      expect(list.body.find((s: { id: string }) => s.id === thereId).current).toBe(false);
      const fromThere = await t.http.get('/auth/sessions').set(there.auth).expect(200);
      expect(fromThere.body.filter((s: { current: boolean }) => s.current).map((s: { id: string }) => s.id)).toEqual([
        thereId,
      ]);

      await me(there.accessToken).expect(200);
      await t.http.delete(`/auth/sessions/${thereId}`).set(here.auth).expect(204);
      await me(there.accessToken).expect(401);
      await t.http.post('/auth/refresh').send({ refreshToken: there.refreshToken }).expect(401);
      await me(here.accessToken).expect(200);
      const after = await t.http.get('/auth/sessions').set(here.auth).expect(200);
      expect(after.body.map((s: { id: string }) => s.id)).toEqual([hereId]);
      // Already revoked: nothing left to revoke.
      await t.http.delete(`/auth/sessions/${thereId}`).set(here.auth).expect(404);
    });

    it('answers 404 for another user’s session, in the same tenant or another, and leaves it alone', async () => {
      const ours = await tenantWithRoles(t);
      const theirs = await tenantWithRoles(t);
      for (const victim of [ours.member, theirs.owner]) {
        const res = await t.http
          .delete(`/auth/sessions/${claimsOf(victim.accessToken).sid}`)
          .set(ours.owner.auth)
          .expect(404);
        expect(res.body.code).toBe('NOT_FOUND');
        await me(victim.accessToken).expect(200);
      }
      const listed = await t.http.get('/auth/sessions').set(ours.owner.auth).expect(200);
      expect(listed.body.map((s: { id: string }) => s.id)).toEqual([claimsOf(ours.owner.accessToken).sid]);
    });

    it('answers 400 for an id that is not a uuid', async () => {
      const { member } = await tenantWithRoles(t);
      const res = await t.http.delete('/auth/sessions/not-a-uuid').set(member.auth).expect(400);
      expect(res.body.statusCode).toBe(400);
      await me(member.accessToken).expect(200);
    });
  });

  describe('timeouts', () => {
    it('an API sign-in ends 30 days after it started, access and refresh alike', async () => {
      const start = Date.now();
      const user = await signIn(t, await createUser(t, (await createTenant(t)).id, 'member'));
      expect(t.config.refreshTokenDays).toBe(30);

      setNow(start + 29 * DAY);
      await me(user.accessToken).expect(200);
      const renewed = (await t.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200)).body;
      await me(renewed.accessToken).expect(200);

      setNow(start + 30 * DAY + MINUTE);
      await me(renewed.accessToken).expect(401);
      await me(user.accessToken).expect(401);
      const refused = await t.http.post('/auth/refresh').send({ refreshToken: renewed.refreshToken }).expect(401);
      expect(refused.body.code).toBe('REFRESH_TOKEN_INVALID');
    });

    it('a dashboard session ends after 30 idle minutes', async () => {
      const sessions = t.app.get(SessionsService);
      const user = await createUser(t, (await createTenant(t)).id, 'member');
      const start = Date.now();
      setNow(start);
      const idle = await sessions.createDashboardSession(user, {});
      const active = await sessions.createDashboardSession(user, {});
      expect(await sessions.principalForDashboardToken(idle.token)).toMatchObject({
        userId: user.id,
        sessionId: idle.session.id,
      });

      setNow(start + 29 * MINUTE);
      expect(await sessions.principalForDashboardToken(active.token)).toMatchObject({ userId: user.id });
      setNow(start + 31 * MINUTE);
      expect(await sessions.principalForDashboardToken(idle.token)).toBeNull();
      expect(await sessions.principalForDashboardToken(active.token)).toMatchObject({ userId: user.id });
      expect(await sessions.principalForDashboardToken(randomBytes(32).toString('base64url'))).toBeNull();
    });

    it('a dashboard session used every 20 minutes lives until 12 hours, then ends', async () => {
      const sessions = t.app.get(SessionsService);
      const user = await createUser(t, (await createTenant(t)).id, 'member');
      const start = Date.now();
      setNow(start);
      const { token } = await sessions.createDashboardSession(user, {});
      for (let at = 20 * MINUTE; at < 12 * HOUR; at += 20 * MINUTE) {
        setNow(start + at);
        expect(await sessions.principalForDashboardToken(token)).toMatchObject({ userId: user.id });
      }
      setNow(start + 12 * HOUR);
      expect(await sessions.principalForDashboardToken(token)).toBeNull();
    });

    it('a revocation through the service takes effect at once, despite the session check cache', async () => {
      const user = await signIn(t, await createUser(t, (await createTenant(t)).id, 'member'));
      await me(user.accessToken).expect(200);
      await t.app.get(SessionsService).revoke(user.tenantId, claimsOf(user.accessToken).sid, 'test');
      await me(user.accessToken).expect(401);
    });

    it('a cached session check is asked again once 5 seconds have passed', async () => {
      const user = await signIn(t, await createUser(t, (await createTenant(t)).id, 'member'));
      const start = Date.now();
      setNow(start);
      await me(user.accessToken).expect(200);
      // Ended behind the service's back (another instance, say): noticed when the cached check expires.
      await t.app
        .get(DataSource)
        .query('UPDATE sessions SET revoked_at = now() WHERE id = $1', [claimsOf(user.accessToken).sid]);
      setNow(start + 6_000);
      await me(user.accessToken).expect(401);
    });
  });

  describe('password change', () => {
    let user: SignedIn;
    beforeAll(async () => {
      user = await signIn(t, await createUser(t, (await createTenant(t)).id, 'member'));
    });

    it('refuses a wrong current password with 400', async () => {
      const res = await t.http
        .post('/auth/password')
        .set(user.auth)
        .send({ currentPassword: strongPassword(), newPassword: strongPassword() })
        .expect(400);
      expect(res.body.code).toBe('INVALID_CURRENT_PASSWORD');
      await login({ email: user.email, password: user.password }).expect(200);
    });

    it.each<[string, () => string]>([
      ['a common password', () => 'password123'],
      ['7 characters', () => 'Xq7#vLp'],
      ['the email itself', () => user.email],
    ])('refuses a weak new password (%s) with 400 WEAK_PASSWORD', async (_, weak) => {
      const newPassword = weak();
      const res = await t.http
        .post('/auth/password')
        .set(user.auth)
        .send({ currentPassword: user.password, newPassword })
        .expect(400);
      expect(res.body.code).toBe('WEAK_PASSWORD');
      await login({ email: user.email, password: newPassword }).expect(401);
    });

    it('after 10 wrong current passwords answers 429 with Retry-After, even for the right one, until the window passes', async () => {
      const target = await signIn(t, await createUser(t, (await createTenant(t)).id, 'member'));
      const start = Date.now();
      setNow(start);
      const change = (currentPassword: string) =>
        t.http.post('/auth/password').set(target.auth).send({ currentPassword, newPassword: strongPassword() });
      for (let i = 0; i < t.config.loginFailuresPerAccount; i++)
        expect((await change(`wrong guess number ${i}`)).status).toBe(400);
      const blocked = await change(target.password).expect(429);
      expect(blocked.body).toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      setNow(start + 15 * MINUTE + 1000);
      await change(target.password).expect(204);
    });

    it('requires a session: no token, no change', async () => {
      await t.http
        .post('/auth/password')
        .send({ currentPassword: user.password, newPassword: strongPassword() })
        .expect(401);
    });

    it('after a change the old password fails and the new one works', async () => {
      const newPassword = strongPassword();
      await t.http
        .post('/auth/password')
        .set(user.auth)
        .send({ currentPassword: user.password, newPassword })
        .expect(204);
      const old = await login({ email: user.email, password: user.password }).expect(401);
      expect(old.body.code).toBe('INVALID_CREDENTIALS');
      await login({ email: user.email, password: newPassword }).expect(200);
      await me(user.accessToken).expect(200);
    });
  });

  describe('brute-force limits', () => {
    it('after 10 failures an account is refused with 429 from that address, even with the right password, but not from another', async () => {
      expect(t.config.loginFailuresPerAccount).toBe(10);
      const user = await createUser(t, (await createTenant(t)).id, 'member');
      for (let i = 0; i < 10; i++) {
        const res = await login({ email: user.email, password: `wrong guess number ${i}` });
        expect(res.status).toBe(401);
      }
      const blocked = await login({ email: user.email.toUpperCase(), password: user.password }).expect(429);
      expect(blocked.body).toMatchObject({ statusCode: 429, code: 'TOO_MANY_ATTEMPTS' });
      expect(blocked.body).not.toHaveProperty('accessToken');
      const retryAfter = Number(blocked.headers['retry-after']);
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);

      const elsewhere = await postFrom(
        t.url!,
        '/auth/login',
        { email: user.email, password: user.password },
        '127.0.0.2',
      );
      expect(elsewhere.status).toBe(200);
      await me(elsewhere.body.accessToken).expect(200);
      // Signing in elsewhere does not lift the block here.
      await login({ email: user.email, password: user.password }).expect(429);
    });

    it('guesses spread over many addresses slow the account down for new addresses only, never for one it was used from', async () => {
      const user = await createUser(t, (await createTenant(t)).id, 'member');
      const start = Date.now();
      setNow(start);
      await login({ email: user.email, password: user.password }).expect(200); // this address is now known
      const ceiling = t.config.loginFailuresPerAccount * ACCOUNT_CEILING_FACTOR;
      const attackers = Array.from({ length: ACCOUNT_CEILING_FACTOR }, (_, i) => `127.0.1.${i + 1}`);
      for (const address of attackers) {
        for (let i = 0; i < t.config.loginFailuresPerAccount; i++) {
          expect(
            (await postFrom(t.url!, '/auth/login', { email: user.email, password: `guess ${address} ${i}` }, address))
              .status,
          ).toBe(401);
        }
      }
      expect(attackers.length * t.config.loginFailuresPerAccount).toBe(ceiling);
      // A fresh address is slowed down, even with the right password…
      const fresh = await postFrom(t.url!, '/auth/login', { email: user.email, password: user.password }, '127.0.2.1');
      expect(fresh.status).toBe(429);
      expect(fresh.body).toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
      expect(Number(fresh.headers['retry-after'])).toBeGreaterThan(0);
      // …while the owner's own address still gets through, and the other accounts are untouched.
      await login({ email: user.email, password: user.password }).expect(200);
      const other = await createUser(t, (await createTenant(t)).id, 'member');
      expect(
        (await postFrom(t.url!, '/auth/login', { email: other.email, password: other.password }, '127.0.2.1')).status,
      ).toBe(200);
      // The window passes and the fresh address is let in.
      setNow(start + 15 * MINUTE + 1000);
      expect(
        (await postFrom(t.url!, '/auth/login', { email: user.email, password: user.password }, '127.0.2.1')).status,
      ).toBe(200);
    });

    it('the block lifts when the 15-minute window has passed', async () => {
      const user = await createUser(t, (await createTenant(t)).id, 'member');
      const start = Date.now();
      setNow(start);
      for (let i = 0; i < 10; i++) await login({ email: user.email, password: `wrong guess number ${i}` }).expect(401);
      await login({ email: user.email, password: user.password }).expect(429);
      setNow(start + 14 * MINUTE);
      await login({ email: user.email, password: user.password }).expect(429);
      setNow(start + 15 * MINUTE + 1000);
      await login({ email: user.email, password: user.password }).expect(200);
    });
  });
});

describe('brute-force counters across a restart', () => {
  let database: Awaited<ReturnType<typeof sharedDatabase>> | undefined;
  let a: TestApp | undefined;
  let b: TestApp | undefined;

  afterAll(async () => {
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await database?.drop();
  });

  it('keeps an account blocked after the service restarts on the same database', async () => {
    database = await sharedDatabase();
    const { reuseDatabase } = database;

    a = await createTestApp({ reuseDatabase });
    const user = await createUser(a, (await createTenant(a)).id, 'member');
    for (let i = 0; i < 10; i++)
      await a.http
        .post('/auth/login')
        .send({ email: user.email, password: `wrong guess number ${i}` })
        .expect(401);
    await a.http.post('/auth/login').send({ email: user.email, password: user.password }).expect(429);
    await a.close();
    a = undefined;

    b = await createTestApp({ reuseDatabase, listen: true });
    const res = await b.http.post('/auth/login').send({ email: user.email, password: user.password }).expect(429);
    expect(res.body.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    // The account itself is intact: from an address that did not fail, it signs in.
    const elsewhere = await postFrom(
      b.url!,
      '/auth/login',
      { email: user.email, password: user.password },
      '127.0.0.2',
    );
    expect(elsewhere.status).toBe(200);
    await b.close();
    b = undefined;
  });
});
