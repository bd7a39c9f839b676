import { adminHeaders, createTenant, createUser, signIn } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

/** The forward-auth endpoint on its own; test/forward-auth-proxies.e2e-spec.ts puts real proxies in front. */
describe('forward-auth (GET /v1/forward-auth and every other method)', () => {
  let t: TestApp;
  let tenantId: string;

  const makeKey = async (body: Record<string, unknown> = {}) =>
    (
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId, name: 'proxied', scopes: ['config:read'], ...body })
        .expect(201)
    ).body as { apiKey: string; id: string };

  beforeAll(async () => {
    t = await createTestApp();
    tenantId = (await createTenant(t)).id;
  });
  afterAll(() => t.close());

  it('admits a valid key with its identity in X-Keyward-* headers and the RateLimit-* headers', async () => {
    const key = await makeKey({ scopes: ['config:read', 'keys:read'] });
    const res = await t.http.get('/v1/forward-auth').set('x-api-key', key.apiKey).expect(200);
    expect(res.headers).toMatchObject({
      'x-keyward-tenant': tenantId,
      'x-keyward-key-id': key.id,
      'x-keyward-owner': '',
      'x-keyward-identity': '',
      'x-keyward-scopes': 'config:read keys:read',
      'ratelimit-limit': expect.any(String),
      'ratelimit-remaining': expect.any(String),
    });
    expect(res.text).toBe('');
  });

  it('checks a permission query from X-Keyward-Require-Permissions and names the effective permissions', async () => {
    const owner = await signIn(t, await createUser(t, tenantId, 'owner'));
    for (const name of ['orders:read', 'orders:write'])
      await t.http.post('/v1/permissions').set(owner.auth).send({ name }).expect(201);
    await t.http
      .post('/v1/roles')
      .set(owner.auth)
      .send({ name: 'support', permissions: ['orders:read'] })
      .expect(201);
    const key = await makeKey({ roles: ['support'] });

    const ok = await t.http
      .get('/v1/forward-auth')
      .set('x-api-key', key.apiKey)
      .set('x-keyward-require-permissions', 'orders:read OR orders:write')
      .expect(200);
    expect(ok.headers).toMatchObject({ 'x-keyward-permissions': 'orders:read', 'x-keyward-roles': 'support' });
    const before = Number(ok.headers['ratelimit-remaining']);

    const refused = await t.http
      .get('/v1/forward-auth')
      .set('x-api-key', key.apiKey)
      .set('x-keyward-require-permissions', 'orders:read AND orders:write');
    expect(refused.status).toBe(403);
    expect(refused.headers['x-keyward-code']).toBe('INSUFFICIENT_PERMISSIONS');
    expect(refused.body.details).toEqual({ missingPermissions: ['orders:write'] });
    // Refused before metering: the refusal spent nothing.
    const after = await t.http.get('/v1/forward-auth').set('x-api-key', key.apiKey).expect(200);
    expect(Number(after.headers['ratelimit-remaining'])).toBe(before - 1);

    const malformed = await t.http
      .get('/v1/forward-auth')
      .set('x-api-key', key.apiKey)
      .set('x-keyward-require-permissions', '(orders:read');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({
      code: 'INVALID_PERMISSION_QUERY',
      message: expect.stringContaining('Unbalanced'),
    });
  });

  it('names the key’s identity in X-Keyward-Identity and spends the limit it shares with the identity’s other keys', async () => {
    const owner = await signIn(t, await createUser(t, tenantId, 'owner'));
    await t.http
      .post('/v1/identities')
      .set(owner.auth)
      .send({ externalId: 'org_fa', ratelimits: [{ name: 'default', limit: 3, windowSeconds: 60 }] })
      .expect(201);
    const [first, second] = [await makeKey({ externalId: 'org_fa' }), await makeKey({ externalId: 'org_fa' })];
    const ok = await t.http.get('/v1/forward-auth').set('x-api-key', first.apiKey).expect(200);
    expect(ok.headers).toMatchObject({ 'x-keyward-identity': 'org_fa', 'ratelimit-remaining': '2' });
    await t.http.get('/v1/forward-auth').set('x-api-key', second.apiKey).expect(200);
    await t.http.get('/v1/forward-auth').set('x-api-key', second.apiKey).expect(200);
    // Three uses across two keys spent the identity's limit of 3: the first key is refused too.
    const refused = await t.http.get('/v1/forward-auth').set('x-api-key', first.apiKey);
    expect(refused.status).toBe(429);
    expect(refused.headers['x-keyward-code']).toBe('RATE_LIMITED');
  });

  it('answers HEAD, and any method at any path below it (Envoy appends the original path)', async () => {
    const key = await makeKey();
    await t.http.head('/v1/forward-auth').set('x-api-key', key.apiKey).expect(200);
    for (const method of ['get', 'head', 'post', 'put', 'patch', 'delete', 'options'] as const) {
      // Envoy with path_prefix /v1/forward-auth/envoy, for the original paths /orders/17?x=1 and /.
      for (const path of ['/v1/forward-auth/envoy/orders/17?x=1', '/v1/forward-auth/envoy/']) {
        const res = await t.http[method](path).set('x-api-key', key.apiKey);
        expect([method, path, res.status, res.headers['x-keyward-key-id']]).toEqual([method, path, 200, key.id]);
      }
    }
    const refused = await t.http.post('/v1/forward-auth/envoy/orders').expect(401);
    expect(refused.headers['x-keyward-code']).toBe('KEY_MISSING');
  });

  it('names the owner of a user’s key', async () => {
    const owner = await signIn(t, await createUser(t, tenantId, 'owner'));
    const created = await t.http
      .post('/v1/api-keys')
      .set(owner.auth)
      .send({ name: 'mine', scopes: ['config:read'] })
      .expect(201);
    const res = await t.http.get('/v1/forward-auth').set('x-api-key', created.body.apiKey).expect(200);
    expect(res.headers['x-keyward-owner']).toBe(owner.id);
  });

  it('takes a key as Authorization: Bearer, but never a user’s JWT', async () => {
    const key = await makeKey();
    await t.http.get('/v1/forward-auth').set('authorization', `Bearer ${key.apiKey}`).expect(200);
    const owner = await signIn(t, await createUser(t, tenantId, 'owner'));
    const jwt = await t.http.get('/v1/forward-auth').set(owner.auth).expect(401);
    expect([jwt.body.code, jwt.headers['x-keyward-code']]).toEqual(['KEY_MISSING', 'KEY_MISSING']);
  });

  it('refuses with the code in X-Keyward-Code: no key, a malformed, or revoked key', async () => {
    const none = await t.http.get('/v1/forward-auth').expect(401);
    expect([none.headers['x-keyward-code'], none.headers['x-keyward-status']]).toEqual(['KEY_MISSING', '401']);
    const bad = await t.http.get('/v1/forward-auth').set('x-api-key', 'nonsense').expect(401);
    expect(bad.headers['x-keyward-code']).toBe('KEY_MALFORMED');
    const manager = await makeKey({ scopes: ['keys:write'] });
    const key = await makeKey();
    await t.http.delete(`/v1/api-keys/${key.id}`).set('x-api-key', manager.apiKey).expect(204);
    const revoked = await t.http.get('/v1/forward-auth').set('x-api-key', key.apiKey).expect(401);
    expect(revoked.headers['x-keyward-code']).toBe('KEY_REVOKED');
  });

  it('requires the scopes the proxy names; a missing one is 403 INSUFFICIENT_SCOPE and spends nothing', async () => {
    const key = await makeKey({ scopes: ['config:read'] });
    const remaining = async () =>
      Number(
        (await t.http.get('/v1/forward-auth').set('x-api-key', key.apiKey).expect(200)).headers['ratelimit-remaining'],
      );
    const before = await remaining();
    const refused = await t.http
      .get('/v1/forward-auth')
      .set({ 'x-api-key': key.apiKey, 'x-keyward-require-scopes': 'config:read keys:write' })
      .expect(403);
    expect([refused.body.code, refused.headers['x-keyward-code']]).toEqual([
      'INSUFFICIENT_SCOPE',
      'INSUFFICIENT_SCOPE',
    ]);
    expect(refused.headers['ratelimit-remaining']).toBeUndefined();
    // Only the two admitted checks spent a request.
    expect(await remaining()).toBe(before - 1);
    await t.http
      .get('/v1/forward-auth')
      .set({ 'x-api-key': key.apiKey, 'x-keyward-require-scopes': 'config:read' })
      .expect(200);
  });

  it('answers a requirement naming an unknown scope with 400 (a proxy misconfiguration)', async () => {
    const key = await makeKey();
    const res = await t.http
      .get('/v1/forward-auth')
      .set({ 'x-api-key': key.apiKey, 'x-keyward-require-scopes': 'config:read orders:write' })
      .expect(400);
    expect(res.body.code).toBe('INVALID_REQUIRED_SCOPES');
    expect(res.body.message).toContain('orders:write');
  });

  it('is rate-limited with 429 and Retry-After, or 403 + X-Keyward-Status: 429 when the proxy is nginx', async () => {
    const key = await makeKey({ rateLimit: { limit: 1, windowSeconds: 60 } });
    await t.http.get('/v1/forward-auth').set('x-api-key', key.apiKey).expect(200);
    const limited = await t.http.get('/v1/forward-auth').set('x-api-key', key.apiKey).expect(429);
    expect(limited.headers).toMatchObject({ 'x-keyward-code': 'RATE_LIMITED', 'x-keyward-status': '429' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    for (const nginx of [
      t.http.get('/v1/forward-auth?proxy=nginx').set('x-api-key', key.apiKey),
      t.http.get('/v1/forward-auth').set({ 'x-api-key': key.apiKey, 'x-keyward-proxy': 'nginx' }),
    ]) {
      const res = await nginx.expect(403);
      expect(res.headers).toMatchObject({ 'x-keyward-code': 'RATE_LIMITED', 'x-keyward-status': '429' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
  });
});

describe('forward-auth in the OpenAPI document', () => {
  it('is one GET operation with the API-key security scheme (the Envoy paths below it are not listed)', async () => {
    const t = await createTestApp();
    try {
      const paths = (await t.http.get('/docs/json').expect(200)).body.paths;
      expect(Object.keys(paths).filter((path) => path.startsWith('/v1/forward-auth'))).toEqual(['/v1/forward-auth']);
      expect(Object.keys(paths['/v1/forward-auth'])).toEqual(['get']);
      expect(paths['/v1/forward-auth'].get).toMatchObject({
        operationId: 'ForwardAuthController_checkForwardedRequest',
        security: [{ apiKey: [] }],
        summary: expect.stringContaining('Forward-auth'),
      });
    } finally {
      await t.close();
    }
  });
});
