import { AccessRule } from '../src/common/auth/access.decorators';
import { listRouteAccess } from '../src/common/auth/route-access';
import { AccessGuard } from '../src/common/auth/access.guard';
import { adminHeaders, createTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

/**
 * Every route and who may reach it ("direct": Fastify calls it without Nest's router, after the
 * same access check). A new route, or a change of access, changes this table, so it shows up in review. A route without a rule fails the second test.
 */
const EXPECTED: Record<string, string> = {
  'GET /': 'public',
  'GET /health': 'public; direct',
  'GET /ready': 'public',
  'GET /metrics': 'metricsToken',
  'POST /admin/tenants': 'adminToken',
  'GET /admin/tenants': 'adminToken',
  'GET /admin/tenants/:id': 'adminToken',
  'PATCH /admin/tenants/:id': 'adminToken',
  'POST /admin/tenants/:id/users': 'adminToken',
  'POST /auth/login': 'public',
  'POST /auth/login/mfa': 'public',
  'POST /auth/passkey/options': 'public',
  'POST /auth/passkey': 'public',
  'POST /auth/refresh': 'public',
  'POST /auth/logout': 'via jwt; during enrolment',
  'GET /auth/me': 'via jwt|session|apiKey; during enrolment',
  'GET /auth/mfa': 'via jwt|session; during enrolment',
  'POST /auth/mfa/totp': 'via jwt|session; during enrolment',
  'POST /auth/mfa/totp/confirm': 'via jwt|session; during enrolment',
  'DELETE /auth/mfa/totp': 'via jwt|session',
  'POST /auth/mfa/recovery-codes': 'via jwt|session',
  'POST /auth/mfa/passkeys/options': 'via jwt|session; during enrolment',
  'POST /auth/mfa/passkeys': 'via jwt|session; during enrolment',
  'PATCH /auth/mfa/passkeys/:id': 'via jwt|session',
  'DELETE /auth/mfa/passkeys/:id': 'via jwt|session',
  'POST /auth/step-up/options': 'via jwt|session',
  'POST /auth/step-up': 'via jwt|session',
  'GET /v1/tenant/mfa-policy': 'via jwt|session',
  'PUT /v1/tenant/mfa-policy': 'via jwt|session; roles owner',
  'DELETE /v1/users/:id/factors': 'via jwt|session; roles owner',
  'DELETE /admin/tenants/:id/users/:userId/factors': 'adminToken',
  'GET /auth/sessions': 'via jwt|session',
  'DELETE /auth/sessions/:id': 'via jwt|session',
  'POST /auth/password': 'via jwt|session',
  'POST /auth/password/forgot': 'public',
  'POST /auth/password/reset': 'public',
  'POST /auth/invitations/accept': 'public',
  'GET /auth/tenants': 'via jwt|session',
  'POST /auth/switch-tenant': 'via jwt',
  'POST /auth/email': 'via jwt|session',
  'POST /auth/email/confirm': 'public',
  'GET /v1/users': 'via jwt|session|apiKey; scopes users:read',
  'PATCH /v1/users/:id': 'via jwt|session; roles owner|admin',
  'DELETE /v1/users/:id': 'via jwt|session; roles owner|admin',
  'POST /v1/users/invitations': 'via jwt|session; roles owner|admin',
  'POST /admin/api-keys': 'adminToken',
  'POST /auth/api-key/generate': 'via jwt|session; scopes keys:write',
  'GET /auth/api-key/list': 'via jwt|session',
  'POST /auth/api-key/revoke': 'via jwt|session',
  'DELETE /auth/api-key/revoke/:key': 'via jwt|session',
  'DELETE /auth/api-key': 'via apiKey',
  'POST /v1/api-keys': 'via apiKey|jwt|session; scopes keys:write',
  'GET /v1/api-keys': 'via apiKey|jwt|session; scopes keys:read',
  'GET /v1/api-keys/:id': 'via apiKey|jwt|session; scopes keys:read',
  'PATCH /v1/api-keys/:id': 'via apiKey|jwt|session; scopes keys:write',
  'DELETE /v1/api-keys/:id': 'via apiKey|jwt|session; scopes keys:write',
  'POST /v1/api-keys/:id/rotate': 'via apiKey|jwt|session; scopes keys:write',
  'POST /v1/keys/verify': 'via apiKey; scopes keys:verify; direct',
  'POST /v1/identities': 'via apiKey|jwt|session; scopes keys:write',
  'GET /v1/identities': 'via apiKey|jwt|session; scopes keys:read',
  'GET /v1/identities/:externalId': 'via apiKey|jwt|session; scopes keys:read',
  'PATCH /v1/identities/:externalId': 'via apiKey|jwt|session; scopes keys:write',
  'DELETE /v1/identities/:externalId': 'via apiKey|jwt|session; scopes keys:write',
  'POST /v1/identities/:externalId/revoke-keys': 'via apiKey|jwt|session; scopes keys:write',
  'POST /v1/keys/report-leak': 'public',
  'GET /v1/forward-auth': 'forwardAuth',
  'ALL /v1/forward-auth/*': 'forwardAuth',
  'GET /v1/api-keys/:id/usage': 'via apiKey|jwt|session; scopes keys:read',
  'GET /v1/permissions': 'via apiKey|jwt|session; scopes permissions:read',
  'POST /v1/permissions': 'via apiKey|jwt|session; roles owner|admin; scopes permissions:write',
  'DELETE /v1/permissions/:name': 'via apiKey|jwt|session; roles owner|admin; scopes permissions:write',
  'GET /v1/roles': 'via apiKey|jwt|session; scopes permissions:read',
  'GET /v1/roles/:name': 'via apiKey|jwt|session; scopes permissions:read',
  'POST /v1/roles': 'via apiKey|jwt|session; roles owner|admin; scopes permissions:write',
  'PATCH /v1/roles/:name': 'via apiKey|jwt|session; roles owner|admin; scopes permissions:write',
  'DELETE /v1/roles/:name': 'via apiKey|jwt|session; roles owner|admin; scopes permissions:write',
  'GET /v1/usage': 'via apiKey|jwt|session; roles owner|admin; scopes keys:read',
  'GET /config': 'via apiKey; scopes config:read; direct',
  'GET /v1/config/entries': 'via apiKey|jwt|session; roles owner|admin; scopes config:write',
  'PUT /v1/config/entries/:key': 'via apiKey|jwt|session; roles owner|admin; scopes config:write',
  'DELETE /v1/config/entries/:key': 'via apiKey|jwt|session; roles owner|admin; scopes config:write',
  'GET /v1/audit-events': 'via jwt|session|apiKey; roles owner|admin; scopes audit:read',
  'GET /v1/audit-events/verify': 'via jwt|session|apiKey; roles owner|admin; scopes audit:read',
  'GET /admin/audit-events': 'adminToken',
  'GET /login': 'public',
  'POST /login': 'public',
  'POST /logout': 'via session; during enrolment',
  'GET /login/mfa': 'public',
  'POST /login/mfa': 'public',
  'POST /login/mfa/passkey': 'public',
  'POST /login/passkey/options': 'public',
  'POST /login/passkey': 'public',
  'GET /dashboard/security': 'via session; during enrolment',
  'POST /dashboard/security/totp': 'via session; during enrolment',
  'POST /dashboard/security/totp/confirm': 'via session; during enrolment',
  'POST /dashboard/security/totp/remove': 'via session',
  'POST /dashboard/security/recovery-codes': 'via session',
  'POST /dashboard/security/passkeys/:id': 'via session',
  'POST /dashboard/security/passkeys/:id/remove': 'via session',
  'POST /dashboard/security/policy': 'via session; roles owner',
  'GET /dashboard/step-up': 'via session',
  'POST /dashboard/step-up': 'via session',
  'POST /dashboard/step-up/passkey': 'via session',
  'POST /dashboard/step-up/passkey/options': 'via session',
  'GET /forgot': 'public',
  'POST /forgot': 'public',
  'GET /reset': 'public',
  'POST /reset': 'public',
  'GET /invite': 'public',
  'POST /invite': 'public',
  'GET /email/confirm': 'public',
  'POST /email/confirm': 'public',
  'GET /dashboard': 'via session',
  'GET /dashboard/sessions': 'via session',
  'POST /dashboard/sessions/others/revoke': 'via session',
  'POST /dashboard/sessions/:id/revoke': 'via session',
  'GET /dashboard/account': 'via session',
  'POST /dashboard/account/password': 'via session',
  'POST /dashboard/account/email': 'via session',
  'GET /dashboard/tenants': 'via session',
  'POST /dashboard/tenants': 'via session',
  'GET /dashboard/keys': 'via session',
  'GET /dashboard/keys/new': 'via session; roles owner|admin|member',
  'POST /dashboard/keys': 'via session; roles owner|admin|member',
  'GET /dashboard/keys/:id': 'via session',
  'GET /dashboard/keys/:id/secret': 'via session; roles owner|admin|member',
  'POST /dashboard/keys/:id': 'via session; roles owner|admin|member',
  'POST /dashboard/keys/:id/disable': 'via session; roles owner|admin|member',
  'POST /dashboard/keys/:id/enable': 'via session; roles owner|admin|member',
  'GET /dashboard/keys/:id/revoke': 'via session; roles owner|admin|member',
  'POST /dashboard/keys/:id/revoke': 'via session; roles owner|admin|member',
  'POST /dashboard/keys/:id/rotate': 'via session; roles owner|admin|member',
  'GET /dashboard/users': 'via session; roles owner|admin',
  'POST /dashboard/users/invitations': 'via session; roles owner|admin',
  'POST /dashboard/users/:id/remove': 'via session; roles owner|admin',
  'GET /dashboard/users/:id/disable': 'via session; roles owner|admin',
  'GET /dashboard/users/:id/remove': 'via session; roles owner|admin',
  'POST /dashboard/users/:id': 'via session; roles owner|admin',
  'GET /dashboard/config': 'via session; roles owner|admin',
  'POST /dashboard/config': 'via session; roles owner|admin',
  'POST /dashboard/config/:key/reveal': 'via session; roles owner|admin',
  'GET /dashboard/config/:key/delete': 'via session; roles owner|admin',
  'POST /dashboard/config/:key/delete': 'via session; roles owner|admin',
  'GET /dashboard/audit': 'via session; roles owner|admin',
  'GET /dashboard/audit/:id': 'via session; roles owner|admin',
  'POST /admin/operators': 'adminToken',
  'GET /operator/bootstrap': 'public',
  'POST /operator/bootstrap': 'public',
  'GET /operator': 'operator',
  'GET /operator/tenants': 'operator',
  'POST /operator/tenants': 'operator',
  'GET /operator/tenants/:id': 'operator',
  'POST /operator/tenants/:id/limits': 'operator',
  'GET /operator/tenants/:id/suspend': 'operator',
  'POST /operator/tenants/:id/suspend': 'operator',
  'POST /operator/tenants/:id/unsuspend': 'operator',
  'POST /operator/tenants/:id/owner': 'operator',
  'POST /operator/tenants/:id/keys': 'operator',
  'GET /operator/tenants/:id/keys/:keyId/created': 'operator',
  'GET /operator/audit': 'operator',
  'GET /operator/usage': 'operator',
  'GET /operator/operators': 'operator',
  'POST /operator/operators': 'operator',
  'GET /operator/security': 'operator',
  'POST /operator/security/totp': 'operator',
  'POST /operator/security/totp/confirm': 'operator',
  'POST /operator/logout': 'operator',
};

function describeRule(rule: AccessRule | undefined): string {
  if (!rule) return 'NONE';
  if (rule.type !== 'authenticated') return rule.type;
  const parts = [`via ${rule.via.join('|')}`];
  if (rule.roles) parts.push(`roles ${rule.roles.join('|')}`);
  if (rule.scopes) parts.push(`scopes ${rule.scopes.join(' ')}`);
  if (rule.duringEnrolment) parts.push('during enrolment');
  return parts.join('; ');
}

describe('route access rules', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('match the reviewed table exactly', () => {
    const actual = Object.fromEntries(
      listRouteAccess(t.app).map((route) => [
        `${route.method} ${route.path}`,
        describeRule(route.rule) + (route.direct ? '; direct' : ''),
      ]),
    );
    expect(actual).toEqual(EXPECTED);
  });

  it('exist on every route', () => {
    const missing = listRouteAccess(t.app).filter((route) => !route.rule);
    expect(missing).toEqual([]);
  });

  it('on direct routes are checked by the same guard without Nest’s guard layer, and refuse as it does', async () => {
    const guard = t.app.get(AccessGuard);
    const throughNest = jest.spyOn(guard, 'canActivate');
    const direct = jest.spyOn(guard, 'admitDirect');
    try {
      const tenant = await createTenant(t);
      const key = async (scopes: string[]) =>
        (await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: tenant.id, scopes }).expect(201)).body
          .apiKey as string;
      const [reader, verifier] = [await key(['config:read']), await key(['keys:verify'])];
      throughNest.mockClear();
      direct.mockClear();

      await t.http.get('/health').expect(200);
      await t.http.get('/config').set('x-api-key', reader).expect(200);
      expect((await t.http.get('/config')).body).toMatchObject({ statusCode: 401, code: 'KEY_MISSING' });
      expect((await t.http.get('/config').set('x-api-key', verifier)).body).toMatchObject({
        statusCode: 403,
        code: 'INSUFFICIENT_SCOPE',
      });
      const verified = await t.http
        .post('/v1/keys/verify')
        .set('x-api-key', verifier)
        .send({ key: reader })
        .expect(200);
      expect(verified.body).toMatchObject({ valid: true, code: 'VALID' });
      await t.http.post('/v1/keys/verify').set('x-api-key', reader).send({ key: reader }).expect(403);
      expect(direct).toHaveBeenCalledTimes(6);
      expect(throughNest).not.toHaveBeenCalled();

      // Every other route still goes through Nest's guard layer.
      await t.http.get('/ready').expect(200);
      expect(throughNest).toHaveBeenCalledTimes(1);
    } finally {
      throughNest.mockRestore();
      direct.mockRestore();
    }
  });
});
