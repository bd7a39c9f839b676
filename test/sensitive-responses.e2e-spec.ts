import { SCOPES } from '../src/common/auth/scopes';
import { adminHeaders, createTenant, createUser, signIn, SignedIn, TestTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

describe('responses and requests that carry a full key or token', () => {
  let t: TestApp;
  let tenant: TestTenant;
  let owner: SignedIn;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t);
    owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
  });
  afterAll(() => t.close());

  const mint = async (scopes: string[]) =>
    (
      await t.http
        .post('/v1/api-keys')
        .set(owner.auth)
        .send({ name: `k ${scopes.join(' ')}`.slice(0, 100), scopes })
        .expect(201)
    ).body as { id: string; apiKey: string };

  it('every answer with a full key or token says Cache-Control: no-store', async () => {
    const answers: Record<string, string | undefined> = {};
    const login = await t.http.post('/auth/login').send({ email: owner.email, password: owner.password }).expect(200);
    answers.login = login.headers['cache-control'];
    answers.refresh = (
      await t.http.post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(200)
    ).headers['cache-control'];
    answers.generate = (
      await t.http.post('/auth/api-key/generate').set(owner.auth).send({ name: 'cli' }).expect(201)
    ).headers['cache-control'];
    const created = await t.http
      .post('/v1/api-keys')
      .set({ ...owner.auth, 'idempotency-key': 'no-store' })
      .send({ name: 'svc' })
      .expect(201);
    answers.create = created.headers['cache-control'];
    const replayed = await t.http
      .post('/v1/api-keys')
      .set({ ...owner.auth, 'idempotency-key': 'no-store' })
      .send({ name: 'svc' })
      .expect(201);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    answers.replay = replayed.headers['cache-control'];
    answers.rotate = (
      await t.http.post(`/v1/api-keys/${created.body.id}/rotate`).set(owner.auth).send({}).expect(201)
    ).headers['cache-control'];
    answers.adminCreate = (
      await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: tenant.id, name: 'first' }).expect(201)
    ).headers['cache-control'];
    expect(answers).toEqual({
      login: 'no-store',
      refresh: 'no-store',
      generate: 'no-store',
      create: 'no-store',
      replay: 'no-store',
      rotate: 'no-store',
      adminCreate: 'no-store',
    });
  });

  it('POST /auth/api-key/revoke takes the key (or its id) in the body; the path form still works and is marked deprecated', async () => {
    const byKey = (await t.http.post('/auth/api-key/generate').set(owner.auth).send({ name: 'by key' }).expect(201))
      .body;
    const byId = (await t.http.post('/auth/api-key/generate').set(owner.auth).send({ name: 'by id' }).expect(201)).body;
    const byPath = (await t.http.post('/auth/api-key/generate').set(owner.auth).send({ name: 'by path' }).expect(201))
      .body;
    await t.http.post('/auth/api-key/revoke').set(owner.auth).send({ key: byKey.apiKey }).expect(204);
    await t.http.post('/auth/api-key/revoke').set(owner.auth).send({ key: byId.id }).expect(204);
    await t.http.delete(`/auth/api-key/revoke/${byPath.id}`).set(owner.auth).expect(204);
    for (const key of [byKey, byId, byPath])
      expect((await t.http.get('/auth/me').set('x-api-key', key.apiKey)).body.code).toBe('KEY_REVOKED');

    // Another user's key is not found, and a missing body is a 400.
    const member = await signIn(t, await createUser(t, tenant.id, 'member'));
    const othersKey = (
      await t.http.post('/auth/api-key/generate').set(member.auth).send({ name: 'theirs' }).expect(201)
    ).body;
    expect((await t.http.post('/auth/api-key/revoke').set(owner.auth).send({ key: othersKey.apiKey })).status).toBe(
      404,
    );
    expect((await t.http.post('/auth/api-key/revoke').set(owner.auth).send({})).status).toBe(400);

    const docs = (await t.http.get('/docs/json').expect(200)).body;
    expect(docs.paths['/auth/api-key/revoke/{key}'].delete.deprecated).toBe(true);
    expect(docs.paths['/auth/api-key/revoke'].post.deprecated).toBeUndefined();
  });

  it('config:write without config:secrets cannot overwrite, unmask or delete a secret entry (403 CONFIG_SECRETS_REQUIRED)', async () => {
    const writer = (await mint(['config:read', 'config:write'])).apiKey;
    const reader = (await mint(['config:read', 'config:secrets'])).apiKey;
    await t.http
      .put('/v1/config/entries/db.password')
      .set(owner.auth)
      .send({ value: 'the real one', secret: true })
      .expect(200);
    await t.http.put('/v1/config/entries/plain.flag').set(owner.auth).send({ value: 'on' }).expect(200);

    for (const body of [
      { value: 'attacker chosen' },
      { value: 'attacker chosen', secret: false },
      { value: 'attacker chosen', secret: true },
    ]) {
      const res = await t.http.put('/v1/config/entries/db.password').set('x-api-key', writer).send(body);
      expect([res.status, res.body.code]).toEqual([403, 'CONFIG_SECRETS_REQUIRED']);
    }
    const removed = await t.http.delete('/v1/config/entries/db.password').set('x-api-key', writer);
    expect([removed.status, removed.body.code]).toEqual([403, 'CONFIG_SECRETS_REQUIRED']);
    expect((await t.http.get('/config').set('x-api-key', reader).expect(200)).body['db.password']).toBe('the real one');

    // Plain entries and new entries stay writable; with config:secrets the secret is too.
    await t.http.put('/v1/config/entries/plain.flag').set('x-api-key', writer).send({ value: 'off' }).expect(200);
    await t.http
      .put('/v1/config/entries/new.secret')
      .set('x-api-key', writer)
      .send({ value: 'deposit', secret: true })
      .expect(200);
    const manager = (await mint([...SCOPES])).apiKey;
    await t.http
      .put('/v1/config/entries/db.password')
      .set('x-api-key', manager)
      .send({ value: 'rotated', secret: true })
      .expect(200);
    await t.http.delete('/v1/config/entries/db.password').set('x-api-key', manager).expect(204);
  });
});
