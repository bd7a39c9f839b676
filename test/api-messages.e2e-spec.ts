import { Response } from 'supertest';
import { SCOPES } from '../src/common/auth/scopes';
import { adminHeaders, createTenant, createUser, signIn, TestTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

type Body = Record<string, unknown>;
const withKey = (key: string) => ({ 'x-api-key': key });
const answer = (res: Response) => ({ status: res.status, code: res.body?.code, message: res.body?.message });

/** What a newcomer gets wrong first, answered with one message that says what to send. */
describe('API messages for a newcomer', () => {
  let t: TestApp;
  let tenant: TestTenant;
  let manager: string;

  const adminKey = async (body: Body = {}) => {
    const res = await t.http
      .post('/admin/api-keys')
      .set(adminHeaders)
      .send({ tenantId: tenant.id, ...body });
    expect(res.status).toBe(201);
    return res.body as { id: string; apiKey: string } & Body;
  };
  const createKey = (body: unknown) =>
    t.http
      .post('/v1/api-keys')
      .set(withKey(manager))
      .send(body as object);

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t);
    manager = (await adminKey({ scopes: [...SCOPES] })).apiKey;
  });
  afterAll(() => t.close());

  it('JSON sent as a form (curl -d without content-type) is a 415 that says to send content-type: application/json', async () => {
    const res = await t.http
      .post('/v1/api-keys')
      .set({ ...withKey(manager), 'content-type': 'application/x-www-form-urlencoded' })
      .send('{"name":"a"}');
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(res.body.message).toContain('content-type: application/json');
    // The same on a public route, before any sign-in work.
    const login = await t.http
      .post('/auth/login')
      .set('content-type', 'application/x-www-form-urlencoded')
      .send('{"email":"a@example.com","password":"x"}');
    expect(answer(login)).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('a __proto__ key in a JSON body says so, instead of "Body is not valid JSON"', async () => {
    const res = await t.http
      .post('/v1/api-keys')
      .set({ ...withKey(manager), 'content-type': 'application/json' })
      .send('{"name":"a","__proto__":{"x":1}}');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('FORBIDDEN_PROPERTY');
    expect(res.body.message).toContain('"__proto__"');
    const broken = await t.http
      .post('/v1/api-keys')
      .set({ ...withKey(manager), 'content-type': 'application/json' })
      .send('{"name":');
    expect(broken.status).toBe(400);
    expect(broken.body.code).not.toBe('FORBIDDEN_PROPERTY');
  });

  it('a configuration entry without value: "value is required"', async () => {
    const res = await t.http.put('/v1/config/entries/a.b').set(withKey(manager)).send({});
    expect(answer(res)).toEqual({
      status: 400,
      code: 'VALIDATION_FAILED',
      message: 'value is required (any JSON value, null included)',
    });
  });

  it('scopes that are not a list, empty, unknown or repeated: one clear message each', async () => {
    const messages = async (scopes: unknown) => (await createKey({ scopes })).body.message;
    expect(await messages('x')).toBe('scopes must be an array of scope names, such as ["keys:read"]');
    expect(await messages([])).toBe('scopes must name at least one scope (an empty list would allow nothing)');
    expect(await messages(['config:read', 'nope'])).toMatch(/^scopes has unknown scope names: nope \(known: /);
    expect(await messages(['config:read', 'config:read'])).toBe('scopes must not name a scope twice');
  });

  it('a number sent as text gets one message with the range (expiresInDays, quota, rate limit)', async () => {
    expect((await createKey({ expiresInDays: '30' })).body.message).toBe(
      'expiresInDays must be a whole number from 1 to 3650',
    );
    expect((await createKey({ quota: { remaining: 'ten' } })).body.message).toBe(
      'remaining must be a whole number from 0 to 1000000000',
    );
    expect((await createKey({ rateLimit: { limit: 0, windowSeconds: 1 } })).body.message).toBe(
      'limit must be a whole number from 1 to 1000000',
    );
  });

  it('a key created without scopes gets read-only default scopes on a new tenant (no keys:write)', async () => {
    const fresh = await createTenant(t);
    const owner = await signIn(t, await createUser(t, fresh.id, 'owner'));
    const res = await t.http.post('/v1/api-keys').set(owner.auth).send({ name: 'no thought' }).expect(201);
    expect(res.body.scopes).toEqual(['config:read', 'keys:read']);
    const tenantRow = await t.http.get(`/admin/tenants/${fresh.id}`).set(adminHeaders).expect(200);
    expect(tenantRow.body.defaultKeyScopes).toEqual(['config:read', 'keys:read']);
    const minted = await t.http.post('/v1/api-keys').set(withKey(res.body.apiKey)).send({ name: 'child' });
    expect(minted.status).toBe(403);
  });

  it('a rotated key shows status rotating and its successor; rotating it again names the successor', async () => {
    const key = await adminKey({ scopes: ['config:read'] });
    const rotated = await t.http.post(`/v1/api-keys/${key.id}/rotate`).set(withKey(manager)).send({}).expect(201);
    const old = (await t.http.get(`/v1/api-keys/${key.id}`).set(withKey(manager)).expect(200)).body;
    expect(old).toMatchObject({ status: 'rotating', successorId: rotated.body.id });
    expect(old.graceUntil).toEqual(expect.any(String));
    const listed = (await t.http.get('/v1/api-keys?limit=100').set(withKey(manager)).expect(200)).body.items;
    expect(listed.find((item: { id: string }) => item.id === key.id)).toMatchObject({
      status: 'rotating',
      successorId: rotated.body.id,
    });
    expect(rotated.body).toMatchObject({ status: 'active', successorId: null, rotatedFromId: key.id });

    const again = await t.http.post(`/v1/api-keys/${key.id}/rotate`).set(withKey(manager)).send({});
    expect(answer(again)).toEqual({
      status: 409,
      code: 'KEY_ALREADY_ROTATED',
      message: `This key was already rotated; its successor is ${rotated.body.id}: rotate that one instead`,
    });
    expect(again.body.details).toEqual({ successorId: rotated.body.id });
  });

  it('a quota without refill is used up for good: 429 QUOTA_EXCEEDED, no Retry-After, a message that says so', async () => {
    const key = await adminKey({ quota: { remaining: 1 } });
    await t.http.get('/config').set(withKey(key.apiKey)).expect(200);
    const res = await t.http.get('/config').set(withKey(key.apiKey));
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('QUOTA_EXCEEDED');
    expect(res.body.message).toContain('for good');
    expect(res.body.details).toEqual({ refillsAt: null });
    expect(res.headers['retry-after']).toBeUndefined();
  });

  it('a quota with a refill to come: 429 QUOTA_EXCEEDED with Retry-After until the refill', async () => {
    const key = await adminKey({ quota: { remaining: 1, refill: { amount: 5, interval: 'day' } } });
    await t.http.get('/config').set(withKey(key.apiKey)).expect(200);
    const res = await t.http.get('/config').set(withKey(key.apiKey));
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('QUOTA_EXCEEDED');
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(86_400 - 3600);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(res.body.message).toBe(
      `This API key has used up its quota until it refills at ${res.body.details.refillsAt}`,
    );
  });

  it('disabling a user says how many working keys it suspended; enabling them again brings the keys back', async () => {
    const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
    const member = await createUser(t, tenant.id, 'member');
    const keys = [await adminKey({ userId: member.id }), await adminKey({ userId: member.id })];
    const ended = await adminKey({ userId: member.id });
    await t.http.delete(`/v1/api-keys/${ended.id}`).set(withKey(manager)).expect(204);
    // A key in its grace period still works, so it counts (as under maxKeysPerUser).
    await t.http.post(`/v1/api-keys/${keys[1].id}/rotate`).set(withKey(manager)).send({}).expect(201);
    const disabled = await t.http
      .patch(`/v1/users/${member.id}`)
      .set(owner.auth)
      .send({ status: 'disabled' })
      .expect(200);
    expect(disabled.body).toMatchObject({ status: 'disabled', suspendedKeys: 3 });
    expect(answer(await t.http.get('/config').set(withKey(keys[0].apiKey)))).toMatchObject({ status: 401 });
    const enabled = await t.http.patch(`/v1/users/${member.id}`).set(owner.auth).send({ status: 'active' }).expect(200);
    expect(enabled.body.suspendedKeys).toBeUndefined();
    await t.http.get('/config').set(withKey(keys[0].apiKey)).expect(200);
  });
});
