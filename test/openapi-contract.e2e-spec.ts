import { randomBytes, randomUUID } from 'node:crypto';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { Response } from 'supertest';
import { SCOPES } from '../src/common/auth/scopes';
import { OneTimeTokensService } from '../src/auth/one-time-tokens.service';
import { DatabaseHealth } from '../src/database/database.health';
import { totpCode } from '../src/mfa/totp';
import { Browser } from './helpers/dashboard';
import { SoftAuthenticator } from './helpers/soft-authenticator';
import { adminHeaders, createUser, SignedIn, signIn, strongPassword, tenantWithRoles } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

/**
 * The OpenAPI document as a contract: every operation it lists is called for a success and for
 * at least one error, and each answer must be a status the operation documents, with a body
 * that validates against the documented schema. A new route without a row here fails.
 */

type Headers = Record<string, string>;
type Json = Record<string, any>;

/** How to call an operation; its method and path come from the document. */
interface Call {
  status: number;
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Headers;
  body?: unknown;
}

interface Fixtures {
  t: TestApp;
  tenantId: string;
  owner: SignedIn;
  viewer: SignedIn;
  /** The owner's key with every scope. */
  key: string;
  keyId: string;
  /** A key with only config:read. */
  narrowKey: string;
  /** The owner's dashboard session, sent as the cookie the document's session scheme names. */
  sessionCookie: string;
  /** A fresh key of the owner: [full key, id]. */
  freshKey(): Promise<[string, string]>;
  /** A fresh signed-in member of the tenant. */
  freshUser(): Promise<SignedIn>;
}

type Case = (f: Fixtures) => Call | Promise<Call>;

const unique = () => randomBytes(4).toString('hex');
const apiKey = (key: string): Headers => ({ 'x-api-key': key });
const MISSING = randomUUID();

/** A new permission of the fixtures' tenant, by name. */
async function definePermission({ t, owner }: Fixtures): Promise<string> {
  const name = `p${unique()}:write`;
  await t.http.post('/v1/permissions').set(owner.auth).send({ name }).expect(201);
  return name;
}

/** A new role of the fixtures' tenant (with no permissions), by name. */
async function defineRole({ t, owner }: Fixtures): Promise<string> {
  const name = `r${unique()}`;
  await t.http.post('/v1/roles').set(owner.auth).send({ name }).expect(201);
  return name;
}

/** A fresh identity of the fixtures' tenant, with a shared limit; its externalId. */
async function identity(f: Fixtures): Promise<string> {
  const externalId = `org_${unique()}`;
  await f.t.http
    .post('/v1/identities')
    .set(f.owner.auth)
    .send({ externalId, meta: { tier: 'gold' }, ratelimits: [{ name: 'default', limit: 50, windowSeconds: 60 }] })
    .expect(201);
  return externalId;
}

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });
/** The next step's code: within the ±1 window, and later than the step a confirmation used. */
const nextCode = (secret: string) => totpCode(secret, new Date(Date.now() + 30_000));
const credentialShape = { id: 'abc', rawId: 'abc', type: 'public-key', response: { clientDataJSON: 'e30' } };

/** A fresh member with an authenticator app, signed in (their factor is fresh for step-up). */
async function withTotp(f: Fixtures) {
  const user = await f.freshUser();
  const { secret } = (await f.t.http.post('/auth/mfa/totp').set(user.auth).expect(200)).body;
  await f.t.http
    .post('/auth/mfa/totp/confirm')
    .set(user.auth)
    .send({ code: totpCode(secret, new Date()) })
    .expect(200);
  return { user, secret: secret as string, accessToken: user.accessToken };
}

/** A fresh member with one passkey on a software authenticator. */
async function withPasskey(f: Fixtures) {
  const user = await f.freshUser();
  const device = new SoftAuthenticator(new URL(f.t.config.publicUrl).origin);
  const options = (await f.t.http.post('/auth/mfa/passkeys/options').set(user.auth).expect(200)).body;
  const added = await f.t.http
    .post('/auth/mfa/passkeys')
    .set(user.auth)
    .send({ challenge: options.challenge, webauthn: device.register(options.webauthn), name: 'Laptop' })
    .expect(201);
  return { user, device, auth: user.auth, passkeyId: added.body.passkey.id as string };
}

/** A fresh member of the fixtures' tenant who also accepted a membership in a second tenant. */
async function inTwoTenants(f: Fixtures): Promise<{ user: SignedIn; otherTenantId: string }> {
  const user = await f.freshUser();
  const other = await f.t.http
    .post('/admin/tenants')
    .set(adminHeaders)
    .send({ name: `Other ${unique()}` });
  const invited = await f.t.http
    .post(`/admin/tenants/${other.body.id}/users`)
    .set(adminHeaders)
    .send({ email: user.email, role: 'member' })
    .expect(201);
  const token = new URL(invited.body.inviteUrl).searchParams.get('token')!;
  await f.t.http.post('/auth/invitations/accept').send({ token, password: user.password }).expect(204);
  return { user, otherTenantId: other.body.id as string };
}

const CASES: Record<string, { ok: Case[]; error: Case[] } | { ok: Case[]; noError: string }> = {
  HealthController_health: { ok: [() => ({ status: 200 })], noError: 'liveness answers whenever the process runs' },
  HealthController_ready: {
    ok: [() => ({ status: 200 })],
    error: [
      ({ t }) => {
        jest.spyOn(t.app.get(DatabaseHealth), 'ping').mockResolvedValueOnce(false);
        return { status: 503 };
      },
    ],
  },

  AuthController_login: {
    ok: [({ owner }) => ({ status: 200, body: { email: owner.email, password: owner.password } })],
    error: [({ owner }) => ({ status: 401, body: { email: owner.email, password: 'not it' } })],
  },
  AuthController_loginMfa: {
    ok: [
      async (f) => {
        const { user, secret } = await withTotp(f);
        const { challenge } = (await f.t.http.post('/auth/login').send({ email: user.email, password: user.password }))
          .body;
        return { status: 200, body: { challenge, code: nextCode(secret) } };
      },
    ],
    error: [
      () => ({ status: 401, body: { challenge: 'kwc_unknown', code: '123456' } }),
      () => ({ status: 400, body: { challenge: 'kwc_unknown' } }),
    ],
  },
  AuthController_passkeyOptions: {
    ok: [() => ({ status: 200, body: {} })],
    noError: 'anyone may start a passkey sign-in; the options hold no account data',
  },
  AuthController_passkeyLogin: {
    ok: [
      async (f) => {
        const { device } = await withPasskey(f);
        const options = (await f.t.http.post('/auth/passkey/options').send({})).body;
        return { status: 200, body: { challenge: options.challenge, webauthn: device.authenticate(options.webauthn) } };
      },
    ],
    error: [
      () => ({ status: 401, body: { challenge: 'kwc_unknown', webauthn: credentialShape } }),
      () => ({ status: 400, body: { challenge: 'kwc_unknown', webauthn: 'nope' } }),
    ],
  },
  MfaController_getFactors: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth })],
    error: [() => ({ status: 401 })],
  },
  MfaController_startTotp: {
    ok: [async (f) => ({ status: 200, headers: (await f.freshUser()).auth })],
    error: [async (f) => ({ status: 409, headers: bearer((await withTotp(f)).accessToken) })],
  },
  MfaController_confirmTotp: {
    ok: [
      async (f) => {
        const user = await f.freshUser();
        const { secret } = (await f.t.http.post('/auth/mfa/totp').set(user.auth)).body;
        return { status: 200, headers: user.auth, body: { code: totpCode(secret, new Date()) } };
      },
    ],
    error: [
      async (f) => ({ status: 409, headers: (await f.freshUser()).auth, body: { code: '123456' } }),
      ({ owner }) => ({ status: 400, headers: owner.auth, body: { code: 'abc' } }),
    ],
  },
  MfaController_removeTotp: {
    ok: [async (f) => ({ status: 204, headers: bearer((await withTotp(f)).accessToken) })],
    error: [async (f) => ({ status: 404, headers: (await f.freshUser()).auth })],
  },
  MfaController_regenerateRecoveryCodes: {
    ok: [async (f) => ({ status: 200, headers: bearer((await withTotp(f)).accessToken) })],
    error: [async (f) => ({ status: 409, headers: (await f.freshUser()).auth })],
  },
  MfaController_passkeyOptions: {
    ok: [async (f) => ({ status: 200, headers: (await f.freshUser()).auth })],
    error: [() => ({ status: 401 })],
  },
  MfaController_addPasskey: {
    ok: [
      async (f) => {
        const user = await f.freshUser();
        const options = (await f.t.http.post('/auth/mfa/passkeys/options').set(user.auth)).body;
        const device = new SoftAuthenticator(new URL(f.t.config.publicUrl).origin);
        return {
          status: 201,
          headers: user.auth,
          body: { challenge: options.challenge, webauthn: device.register(options.webauthn), name: 'Laptop' },
        };
      },
    ],
    error: [({ owner }) => ({ status: 400, headers: owner.auth, body: { challenge: 'x', webauthn: {}, name: '' } })],
  },
  MfaController_renamePasskey: {
    ok: [
      async (f) => {
        const { auth, passkeyId } = await withPasskey(f);
        return { status: 200, headers: auth, params: { id: passkeyId }, body: { name: 'Phone' } };
      },
    ],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, params: { id: MISSING }, body: { name: 'Phone' } })],
  },
  MfaController_removePasskey: {
    ok: [
      async (f) => {
        const { auth, passkeyId } = await withPasskey(f);
        return { status: 204, headers: auth, params: { id: passkeyId } };
      },
    ],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, params: { id: MISSING } })],
  },
  MfaController_stepUpOptions: {
    ok: [async (f) => ({ status: 200, headers: bearer((await withTotp(f)).accessToken) })],
    error: [() => ({ status: 401 })],
  },
  MfaController_stepUpVerify: {
    ok: [
      async (f) => {
        const { accessToken, secret } = await withTotp(f);
        return { status: 200, headers: bearer(accessToken), body: { code: nextCode(secret) } };
      },
    ],
    error: [
      async (f) => ({ status: 409, headers: (await f.freshUser()).auth, body: { code: '123456' } }),
      ({ owner }) => ({ status: 400, headers: owner.auth, body: {} }),
    ],
  },
  MfaPolicyController_getMfaPolicy: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth })],
    error: [() => ({ status: 401 })],
  },
  MfaPolicyController_setMfaPolicy: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth, body: { policy: 'optional' } })],
    error: [
      ({ owner }) => ({ status: 400, headers: owner.auth, body: { policy: 'sometimes' } }),
      ({ viewer }) => ({ status: 403, headers: viewer.auth, body: { policy: 'optional' } }),
    ],
  },
  MfaPolicyController_resetUserFactors: {
    ok: [async (f) => ({ status: 204, headers: f.owner.auth, params: { id: (await withTotp(f)).user.id } })],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, params: { id: MISSING } })],
  },
  MfaPolicyController_adminResetUserFactors: {
    ok: [
      async (f) => ({
        status: 204,
        headers: adminHeaders,
        params: { id: f.tenantId, userId: (await withTotp(f)).user.id },
      }),
    ],
    error: [({ tenantId }) => ({ status: 404, headers: adminHeaders, params: { id: tenantId, userId: MISSING } })],
  },
  AuthController_refresh: {
    ok: [async (f) => ({ status: 200, body: { refreshToken: (await f.freshUser()).refreshToken } })],
    error: [() => ({ status: 401, body: { refreshToken: 'not-a-refresh-token' } })],
  },
  AuthController_logout: {
    ok: [async (f) => ({ status: 204, headers: (await f.freshUser()).auth })],
    error: [() => ({ status: 401 })],
  },
  AuthController_me: {
    ok: [
      ({ owner }) => ({ status: 200, headers: owner.auth }),
      ({ key }) => ({ status: 200, headers: apiKey(key) }),
      ({ sessionCookie }) => ({ status: 200, headers: { cookie: sessionCookie } }),
    ],
    error: [() => ({ status: 401, headers: { authorization: 'Bearer nope' } })],
  },
  AuthController_listSessions: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth })],
    error: [() => ({ status: 401 })],
  },
  AuthController_revokeSession: {
    ok: [
      async (f) => {
        const user = await f.freshUser();
        await signIn(f.t, user); // a second session to end
        const sessions = (await f.t.http.get('/auth/sessions').set(user.auth)).body as Json[];
        return { status: 204, headers: user.auth, params: { id: sessions.find((s) => !s.current)!.id } };
      },
    ],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, params: { id: MISSING } })],
  },
  AuthController_changePassword: {
    ok: [
      async (f) => {
        const user = await f.freshUser();
        return {
          status: 204,
          headers: user.auth,
          body: { currentPassword: user.password, newPassword: strongPassword() },
        };
      },
    ],
    error: [
      ({ owner }) => ({ status: 400, headers: owner.auth, body: { currentPassword: 'wrong', newPassword: 'x' } }),
    ],
  },
  AuthController_forgotPassword: {
    ok: [({ owner }) => ({ status: 202, body: { email: owner.email } })],
    error: [() => ({ status: 400, body: { email: 'not an email' } })],
  },
  AuthController_resetPassword: {
    ok: [
      async (f) => {
        const user = await f.freshUser();
        const token = await f.t.app.get(OneTimeTokensService).issue('password_reset', user, null);
        return { status: 204, body: { token, newPassword: strongPassword() } };
      },
    ],
    error: [() => ({ status: 400, body: { token: 'used-or-unknown', newPassword: strongPassword() } })],
  },
  AuthController_acceptInvitation: {
    ok: [
      async ({ t, tenantId }) => {
        const res = await t.http
          .post(`/admin/tenants/${tenantId}/users`)
          .set(adminHeaders)
          .send({ email: `invited-${unique()}@example.com`, role: 'member' });
        const token = new URL(res.body.inviteUrl).searchParams.get('token')!;
        return { status: 204, body: { token, password: strongPassword() } };
      },
    ],
    error: [() => ({ status: 400, body: { token: 'unknown', password: strongPassword() } })],
  },

  AuthController_listMyTenants: {
    ok: [
      ({ owner }) => ({ status: 200, headers: owner.auth }),
      ({ sessionCookie }) => ({ status: 200, headers: { cookie: sessionCookie } }),
    ],
    error: [() => ({ status: 401 }), ({ key }) => ({ status: 401, headers: apiKey(key) })],
  },
  AuthController_switchTenant: {
    ok: [
      async (f) => {
        const { user, otherTenantId } = await inTwoTenants(f);
        return { status: 200, headers: user.auth, body: { tenantId: otherTenantId } };
      },
    ],
    error: [
      async (f) => ({ status: 409, headers: (await f.freshUser()).auth, body: { tenantId: MISSING } }),
      ({ owner }) => ({ status: 400, headers: owner.auth, body: { tenantId: 'nope' } }),
    ],
  },
  AuthController_changeEmail: {
    ok: [
      async (f) => {
        const user = await f.freshUser();
        return {
          status: 202,
          headers: user.auth,
          body: { newEmail: `moved-${unique()}@example.com`, currentPassword: user.password },
        };
      },
    ],
    error: [
      async (f) => ({
        status: 400,
        headers: (await f.freshUser()).auth,
        body: { newEmail: `moved-${unique()}@example.com`, currentPassword: 'not it' },
      }),
    ],
  },
  AuthController_confirmEmail: {
    ok: [
      async (f) => {
        const user = await f.freshUser();
        const token = await f.t.app
          .get(OneTimeTokensService)
          .issue('email_change', user, user.id, undefined, `confirmed-${unique()}@example.com`);
        return { status: 204, body: { token } };
      },
    ],
    error: [() => ({ status: 400, body: { token: 'used-or-unknown' } }), () => ({ status: 400, body: {} })],
  },
  UsersController_listUsers: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth })],
    error: [({ narrowKey }) => ({ status: 403, headers: apiKey(narrowKey) })],
  },
  UsersController_updateUser: {
    ok: [
      async (f) => ({
        status: 200,
        headers: f.owner.auth,
        params: { id: (await f.freshUser()).id },
        body: { role: 'viewer' },
      }),
    ],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, params: { id: MISSING }, body: { role: 'viewer' } })],
  },
  UsersController_removeUser: {
    ok: [async (f) => ({ status: 204, headers: f.owner.auth, params: { id: (await f.freshUser()).id } })],
    error: [
      ({ owner }) => ({ status: 404, headers: owner.auth, params: { id: MISSING } }),
      ({ owner }) => ({ status: 400, headers: owner.auth, params: { id: 'nope' } }),
      async (f) => ({ status: 403, headers: f.viewer.auth, params: { id: (await f.freshUser()).id } }),
      ({ owner }) => ({ status: 409, headers: owner.auth, params: { id: owner.id } }),
    ],
  },
  UsersController_inviteUser: {
    ok: [
      ({ owner }) => ({
        status: 201,
        headers: owner.auth,
        body: { email: `new-${unique()}@example.com`, role: 'member' },
      }),
    ],
    error: [
      ({ owner, viewer }) => ({ status: 409, headers: owner.auth, body: { email: viewer.email, role: 'member' } }),
    ],
  },

  AdminTenantsController_createTenant: {
    ok: [() => ({ status: 201, headers: adminHeaders, body: { name: `Tenant ${unique()}` } })],
    error: [() => ({ status: 400, headers: adminHeaders, body: { name: '' } })],
  },
  // Once: the document's run makes the first operator, and a second try is refused.
  OperatorsController_bootstrapOperator: {
    ok: [
      () => ({
        status: 201,
        headers: adminHeaders,
        body: { email: `ops-${unique()}@example.com`, password: strongPassword() },
      }),
    ],
    error: [
      () => ({ status: 400, headers: adminHeaders, body: { email: 'not an email', password: strongPassword() } }),
      () => ({
        status: 409,
        headers: adminHeaders,
        body: { email: `ops-${unique()}@example.com`, password: strongPassword() },
      }),
    ],
  },
  AdminTenantsController_listTenants: {
    ok: [() => ({ status: 200, headers: adminHeaders })],
    error: [() => ({ status: 400, headers: adminHeaders, query: { page: '0' } })],
  },
  AdminTenantsController_getTenant: {
    ok: [({ tenantId }) => ({ status: 200, headers: adminHeaders, params: { id: tenantId } })],
    error: [() => ({ status: 404, headers: adminHeaders, params: { id: MISSING } })],
  },
  AdminTenantsController_updateTenant: {
    ok: [
      ({ tenantId }) => ({
        status: 200,
        headers: adminHeaders,
        params: { id: tenantId },
        body: { maxKeysPerUser: 50 },
      }),
    ],
    error: [() => ({ status: 401, params: { id: MISSING }, body: {} })],
  },
  AdminTenantsController_createUser: {
    ok: [
      ({ tenantId }) => ({
        status: 201,
        headers: adminHeaders,
        params: { id: tenantId },
        body: { email: `user-${unique()}@example.com`, role: 'viewer', password: strongPassword() },
      }),
    ],
    error: [
      ({ tenantId, owner }) => ({
        status: 409,
        headers: adminHeaders,
        params: { id: tenantId },
        body: { email: owner.email, role: 'viewer' },
      }),
    ],
  },

  ApiKeysController_createApiKey: {
    ok: [({ owner }) => ({ status: 201, headers: owner.auth, body: { name: 'ci', metadata: { team: 'ops' } } })],
    error: [({ owner }) => ({ status: 400, headers: owner.auth, body: { scopes: ['no:such'] } })],
  },
  ApiKeysController_listApiKeys: {
    ok: [({ key }) => ({ status: 200, headers: apiKey(key) })],
    error: [() => ({ status: 401 })],
  },
  ApiKeysController_getApiKey: {
    ok: [({ key, keyId }) => ({ status: 200, headers: apiKey(key), params: { id: keyId } })],
    error: [({ key }) => ({ status: 404, headers: apiKey(key), params: { id: MISSING } })],
  },
  ApiKeysController_updateApiKey: {
    ok: [
      async (f) => ({
        status: 200,
        headers: f.owner.auth,
        params: { id: (await f.freshKey())[1] },
        body: { name: 'renamed', metadata: { nested: { list: [1, 'two', null] } } },
      }),
    ],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, params: { id: MISSING }, body: { name: 'x' } })],
  },
  ApiKeysController_revokeApiKey: {
    ok: [async (f) => ({ status: 204, headers: f.owner.auth, params: { id: (await f.freshKey())[1] } })],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, params: { id: MISSING } })],
  },
  ApiKeysController_rotateApiKey: {
    ok: [async (f) => ({ status: 201, headers: f.owner.auth, params: { id: (await f.freshKey())[1] }, body: {} })],
    error: [
      async (f) => {
        const [, id] = await f.freshKey();
        await f.t.http.delete(`/v1/api-keys/${id}`).set(f.owner.auth).expect(204);
        return { status: 409, headers: f.owner.auth, params: { id }, body: {} };
      },
    ],
  },
  CliApiKeysController_generateApiKey: {
    ok: [({ owner }) => ({ status: 201, headers: owner.auth, body: { name: 'laptop' } })],
    error: [({ key }) => ({ status: 401, headers: apiKey(key), body: { name: 'laptop' } })],
  },
  CliApiKeysController_listOwnApiKeys: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth })],
    error: [() => ({ status: 401 })],
  },
  CliApiKeysController_revokeCallingApiKey: {
    ok: [async (f) => ({ status: 204, headers: apiKey((await f.freshKey())[0]) })],
    error: [() => ({ status: 401, headers: apiKey('kw_malformed') })],
  },
  CliApiKeysController_revokeOwnApiKey: {
    ok: [async (f) => ({ status: 204, headers: f.owner.auth, body: { key: (await f.freshKey())[0] } })],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, body: { key: MISSING } })],
  },
  CliApiKeysController_revokeOwnApiKeyByPath: {
    ok: [async (f) => ({ status: 204, headers: f.owner.auth, params: { key: (await f.freshKey())[0] } })],
    error: [({ owner }) => ({ status: 404, headers: owner.auth, params: { key: MISSING } })],
  },
  AdminApiKeysController_adminCreateApiKey: {
    ok: [({ tenantId }) => ({ status: 201, headers: adminHeaders, body: { tenantId, scopes: ['config:read'] } })],
    error: [() => ({ status: 400, headers: adminHeaders, body: { scopes: ['config:read'] } })],
  },
  VerifyKeysController_reportLeakedKey: {
    ok: [() => ({ status: 202, body: { key: 'kw_found_somewhere', source: 'https://example.com/paste' } })],
    error: [() => ({ status: 400, body: {} })],
  },
  VerifyKeysController_verifyKey: {
    ok: [
      ({ key, narrowKey }) => ({ status: 200, headers: apiKey(key), body: { key: narrowKey } }),
      ({ key }) => ({ status: 200, headers: apiKey(key), body: { key: 'kw_unknown' } }),
      async (f) => {
        const externalId = await identity(f);
        const made = await f.t.http
          .post('/v1/api-keys')
          .set(f.owner.auth)
          .send({ externalId, ratelimits: [{ name: 'search', limit: 5, windowSeconds: 60 }], quota: { remaining: 3 } })
          .expect(201);
        const body = { key: made.body.apiKey, ratelimits: [{ name: 'default' }, { name: 'search', cost: 2 }], cost: 2 };
        return { status: 200, headers: apiKey(f.key), body };
      },
    ],
    error: [
      ({ narrowKey, key }) => ({ status: 403, headers: apiKey(narrowKey), body: { key } }),
      ({ key, narrowKey }) => ({ status: 400, headers: apiKey(key), body: { key: narrowKey, permissions: '(a OR' } }),
    ],
  },

  PermissionsController_listPermissions: {
    ok: [({ key }) => ({ status: 200, headers: apiKey(key) })],
    error: [({ narrowKey }) => ({ status: 403, headers: apiKey(narrowKey) })],
  },
  PermissionsController_createPermission: {
    ok: [
      ({ key }) => ({ status: 201, headers: apiKey(key), body: { name: `p${unique()}:read`, description: 'Read' } }),
    ],
    error: [
      ({ key }) => ({ status: 400, headers: apiKey(key), body: { name: 'not a name' } }),
      async (f) => ({ status: 409, headers: apiKey(f.key), body: { name: await definePermission(f) } }),
    ],
  },
  PermissionsController_deletePermission: {
    ok: [async (f) => ({ status: 204, headers: apiKey(f.key), params: { name: await definePermission(f) } })],
    error: [
      ({ key }) => ({ status: 404, headers: apiKey(key), params: { name: 'never.defined' } }),
      async (f) => {
        const name = await definePermission(f);
        await f.t.http
          .post('/v1/api-keys')
          .set(f.owner.auth)
          .send({ scopes: ['keys:read'], permissions: [name] })
          .expect(201);
        return { status: 409, headers: apiKey(f.key), params: { name } };
      },
    ],
  },
  RolesController_listRoles: {
    ok: [({ key }) => ({ status: 200, headers: apiKey(key) })],
    error: [({ narrowKey }) => ({ status: 403, headers: apiKey(narrowKey) })],
  },
  RolesController_getRole: {
    ok: [async (f) => ({ status: 200, headers: apiKey(f.key), params: { name: await defineRole(f) } })],
    error: [({ key }) => ({ status: 404, headers: apiKey(key), params: { name: 'never.defined' } })],
  },
  RolesController_createRole: {
    ok: [
      async (f) => ({
        status: 201,
        headers: f.owner.auth,
        body: { name: `r${unique()}`, permissions: [await definePermission(f)] },
      }),
    ],
    error: [
      ({ key }) => ({ status: 400, headers: apiKey(key), body: { name: `r${unique()}`, permissions: ['ghost'] } }),
    ],
  },
  RolesController_updateRole: {
    ok: [
      async (f) => ({
        status: 200,
        headers: apiKey(f.key),
        params: { name: await defineRole(f) },
        body: { permissions: [] },
      }),
    ],
    error: [({ key }) => ({ status: 404, headers: apiKey(key), params: { name: 'never.defined' }, body: {} })],
  },
  RolesController_deleteRole: {
    ok: [async (f) => ({ status: 204, headers: apiKey(f.key), params: { name: await defineRole(f) } })],
    error: [
      ({ key }) => ({ status: 404, headers: apiKey(key), params: { name: 'never.defined' } }),
      async (f) => {
        const name = await defineRole(f);
        await f.t.http
          .post('/v1/api-keys')
          .set(f.owner.auth)
          .send({ scopes: ['keys:read'], roles: [name] })
          .expect(201);
        return { status: 409, headers: apiKey(f.key), params: { name }, query: { force: 'false' } };
      },
    ],
  },

  IdentitiesController_createIdentity: {
    ok: [
      ({ key }) => ({
        status: 201,
        headers: apiKey(key),
        body: {
          externalId: `org_${unique()}`,
          meta: { plan: 'pro' },
          ratelimits: [{ name: 'default', limit: 10, windowSeconds: 60 }],
          quota: { remaining: 100, refill: { amount: 100, interval: 'day' } },
        },
      }),
    ],
    error: [
      ({ key }) => ({ status: 400, headers: apiKey(key), body: { externalId: 'not valid' } }),
      async (f) => ({ status: 409, headers: apiKey(f.key), body: { externalId: await identity(f) } }),
    ],
  },
  IdentitiesController_listIdentities: {
    ok: [({ key }) => ({ status: 200, headers: apiKey(key) })],
    error: [() => ({ status: 401 })],
  },
  IdentitiesController_getIdentity: {
    ok: [async (f) => ({ status: 200, headers: apiKey(f.key), params: { externalId: await identity(f) } })],
    error: [({ key }) => ({ status: 404, headers: apiKey(key), params: { externalId: 'nobody' } })],
  },
  IdentitiesController_updateIdentity: {
    ok: [
      async (f) => ({
        status: 200,
        headers: apiKey(f.key),
        params: { externalId: await identity(f) },
        body: { meta: { plan: 'enterprise' }, quota: null },
      }),
    ],
    error: [({ key }) => ({ status: 404, headers: apiKey(key), params: { externalId: 'nobody' }, body: { meta: {} } })],
  },
  IdentitiesController_deleteIdentity: {
    ok: [async (f) => ({ status: 204, headers: apiKey(f.key), params: { externalId: await identity(f) } })],
    error: [
      async (f) => {
        const externalId = await identity(f);
        await f.t.http.post('/v1/api-keys').set(f.owner.auth).send({ externalId }).expect(201);
        return { status: 409, headers: apiKey(f.key), params: { externalId } };
      },
    ],
  },
  IdentitiesController_revokeIdentityKeys: {
    ok: [
      async (f) => {
        const externalId = await identity(f);
        await f.t.http.post('/v1/api-keys').set(f.owner.auth).send({ externalId }).expect(201);
        return { status: 200, headers: apiKey(f.key), params: { externalId } };
      },
    ],
    error: [({ key }) => ({ status: 404, headers: apiKey(key), params: { externalId: 'nobody' } })],
  },

  ForwardAuthController_checkForwardedRequest: {
    ok: [({ narrowKey }) => ({ status: 200, headers: apiKey(narrowKey) })],
    error: [
      () => ({ status: 401 }),
      ({ narrowKey }) => ({ status: 403, headers: { ...apiKey(narrowKey), 'x-keyward-require-scopes': 'audit:read' } }),
      ({ narrowKey }) => ({
        status: 400,
        headers: { ...apiKey(narrowKey), 'x-keyward-require-scopes': 'no-such-scope' },
      }),
    ],
  },
  TenantConfigController_getConfig: {
    ok: [
      ({ narrowKey }) => ({ status: 200, headers: apiKey(narrowKey) }),
      async ({ t, narrowKey }) => {
        const { headers } = await t.http.get('/config').set(apiKey(narrowKey)).expect(200);
        return { status: 304, headers: { ...apiKey(narrowKey), 'if-none-match': headers.etag } };
      },
    ],
    error: [() => ({ status: 401 }), ({ key }) => ({ status: 400, headers: apiKey(key), query: { api_key: key } })],
  },
  TenantConfigController_listConfigEntries: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth })],
    error: [({ narrowKey }) => ({ status: 403, headers: apiKey(narrowKey) })],
  },
  TenantConfigController_putConfigEntry: {
    ok: [
      ({ key }) => ({ status: 200, headers: apiKey(key), params: { key: 'flags' }, body: { value: { beta: true } } }),
      ({ key }) => ({ status: 200, headers: apiKey(key), params: { key: 'nothing' }, body: { value: null } }),
      ({ key }) => ({ status: 200, headers: apiKey(key), params: { key: 'list' }, body: { value: [1, 'a'] } }),
    ],
    error: [({ key }) => ({ status: 400, headers: apiKey(key), params: { key: 'no spaces' }, body: { value: 1 } })],
  },
  TenantConfigController_deleteConfigEntry: {
    ok: [({ key }) => ({ status: 204, headers: apiKey(key), params: { key: 'flags' } })],
    error: [({ key }) => ({ status: 404, headers: apiKey(key), params: { key: 'never-set' } })],
  },

  UsageController_getApiKeyUsage: {
    ok: [({ key, keyId }) => ({ status: 200, headers: apiKey(key), params: { id: keyId } })],
    error: [({ key }) => ({ status: 404, headers: apiKey(key), params: { id: MISSING } })],
  },
  UsageController_getTenantUsage: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth, query: { granularity: 'day' } })],
    error: [({ owner }) => ({ status: 400, headers: owner.auth, query: { granularity: 'week' } })],
  },

  AuditController_listAuditEvents: {
    ok: [
      ({ owner }) => ({ status: 200, headers: owner.auth }),
      ({ owner }) => ({ status: 200, headers: owner.auth, query: { format: 'csv' } }),
    ],
    error: [({ owner }) => ({ status: 400, headers: owner.auth, query: { limit: '0' } })],
  },
  AuditController_verifyAuditChain: {
    ok: [({ owner }) => ({ status: 200, headers: owner.auth })],
    error: [({ viewer }) => ({ status: 403, headers: viewer.auth })],
  },
  AdminAuditController_adminListAuditEvents: {
    ok: [
      ({ tenantId }) => ({ status: 200, headers: adminHeaders, query: { tenantId } }),
      () => ({ status: 200, headers: adminHeaders, query: { format: 'csv', limit: '5' } }),
    ],
    error: [() => ({ status: 401 })],
  },
};

interface Operation {
  method: string;
  path: string;
  responses: Record<string, { content?: Record<string, { schema: Json }> }>;
}

/** OpenAPI 3.0 schemas as JSON Schema: `nullable` becomes a null alternative, refs point into `doc`. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const { nullable, example: _example, ...rest } = node as Json;
  const converted: Json = {};
  for (const [name, value] of Object.entries(rest)) {
    converted[name] =
      name === '$ref' ? String(value).replace('#/components/schemas/', 'doc#/$defs/') : toJsonSchema(value);
  }
  return nullable ? { anyOf: [{ type: 'null' }, converted] } : converted;
}

describe('the OpenAPI document is a contract', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let document: Json;
  const operations = new Map<string, Operation>();
  const validators = new Map<string, ValidateFunction>();
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);

  beforeAll(async () => {
    t = await createTestApp();
    document = (await t.http.get('/docs/json').expect(200)).body;
    ajv.addSchema({ $id: 'doc', $defs: toJsonSchema(document.components.schemas) });
    for (const [path, methods] of Object.entries(document.paths as Record<string, Record<string, Json>>))
      for (const [method, operation] of Object.entries(methods))
        operations.set(operation.operationId, { method, path, responses: operation.responses });

    const { tenant, owner, viewer } = await tenantWithRoles(t);
    const createKey = async (scopes: string[]): Promise<[string, string]> => {
      const res = await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId: tenant.id, userId: owner.id, scopes })
        .expect(201);
      return [res.body.apiKey, res.body.id];
    };
    const [key, keyId] = await createKey([...SCOPES]);
    const [narrowKey] = await createKey(['config:read']);
    const browser = new Browser(t);
    await browser.signIn(owner);
    const cookieName: string = document.components.securitySchemes.session.name;
    fixtures = {
      t,
      tenantId: tenant.id,
      owner,
      viewer,
      key,
      keyId,
      narrowKey,
      sessionCookie: `${cookieName}=${browser.cookies.get(cookieName)}`,
      freshKey: () => createKey(['config:read', 'keys:read']),
      freshUser: async () => signIn(t, await createUser(t, tenant.id, 'member')),
    };
  });
  afterAll(() => t.close());

  it('lists every route of the API, and every operation has a success and an error case here', () => {
    const documented = [...operations.keys()].sort();
    expect(documented.length).toBeGreaterThanOrEqual(40);
    expect(documented).toEqual(Object.keys(CASES).sort());
  });

  it('gives every operation a security requirement (an empty one for public routes)', () => {
    const missing = [...operations].filter(([, op]) => !document.paths[op.path][op.method].security);
    expect(missing.map(([id]) => id)).toEqual([]);
    expect(document.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie' });
  });

  /** Calls the operation and checks the answer against what the document says of that status. */
  async function exercise(operationId: string, call: Call): Promise<void> {
    const operation = operations.get(operationId);
    expect(operation).toBeDefined();
    const { method, responses } = operation!;
    const path = operation!.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(call.params![name]));
    let req = t.http[method as 'get'](path).set(call.headers ?? {});
    if (call.query) req = req.query(call.query);
    if (call.body !== undefined) req = req.send(call.body as object);
    const res: Response = await req;
    const seen = `${method.toUpperCase()} ${path} → ${res.status} ${res.text.slice(0, 300)}`;
    expect({ seen, status: res.status }).toEqual({ seen, status: call.status });

    const documented = responses[String(res.status)];
    expect({ seen, documented: Boolean(documented) }).toEqual({ seen, documented: true });
    if (!documented.content) {
      expect(res.text).toBe('');
      return;
    }
    const type = String(res.headers['content-type']).split(';')[0].trim();
    expect(Object.keys(documented.content)).toContain(type);
    const key = `${operationId} ${res.status} ${type}`;
    if (!validators.has(key)) validators.set(key, ajv.compile(toJsonSchema(documented.content[type].schema) as Json));
    const validate = validators.get(key)!;
    const body = type === 'application/json' ? res.body : res.text;
    expect({ seen, errors: validate(body) ? [] : validate.errors }).toEqual({ seen, errors: [] });
  }

  describe.each(Object.keys(CASES))('%s', (operationId) => {
    const cases = CASES[operationId];
    it('answers its documented success', async () => {
      for (const make of cases.ok) await exercise(operationId, await make(fixtures));
    });
    if ('error' in cases) {
      it('answers its documented errors', async () => {
        for (const make of cases.error) {
          const call = await make(fixtures);
          expect(call.status).toBeGreaterThanOrEqual(400);
          await exercise(operationId, call);
        }
      });
    }
  });
});
