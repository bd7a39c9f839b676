import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { SCOPES } from '../src/common/auth/scopes';
import { Clock } from '../src/common/clock';
import { IdempotencyService } from '../src/idempotency/idempotency.service';
import { adminHeaders, createTenant, createUser, signIn, strongPassword } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

const HOUR = 60 * 60 * 1000;

describe('Idempotency-Key', () => {
  let t: TestApp;
  /** Every full key handed out here, for the check that none is stored in plain text. */
  const issued: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  const db = () => t.app.get(DataSource);
  const count = async (sql: string, params: unknown[]) => Number((await db().query(sql, params))[0].n);
  const keysNamed = (tenantId: string, name: string) =>
    count('SELECT count(*) AS n FROM api_keys WHERE tenant_id = $1 AND name = $2', [tenantId, name]);

  async function managerKey(tenantId: string): Promise<string> {
    const res = await t.http
      .post('/admin/api-keys')
      .set(adminHeaders)
      .send({ tenantId, name: `manager-${randomUUID()}`, scopes: [...SCOPES] })
      .expect(201);
    issued.push(res.body.apiKey);
    return res.body.apiKey;
  }

  it('a retry with the same key and body returns the first response, full key included, and creates one key', async () => {
    const tenant = await createTenant(t);
    const manager = await managerKey(tenant.id);
    const headers = { 'x-api-key': manager, 'idempotency-key': 'create-ci-key-1' };
    const first = await t.http
      .post('/v1/api-keys')
      .set(headers)
      .send({ name: 'ci', scopes: ['config:read'] });
    expect(first.status).toBe(201);
    issued.push(first.body.apiKey);
    const again = await t.http
      .post('/v1/api-keys')
      .set(headers)
      .send({ scopes: ['config:read'], name: 'ci' });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await keysNamed(tenant.id, 'ci')).toBe(1);
    // The key handed out twice is the one that works.
    await t.http.get('/auth/me').set({ 'x-api-key': first.body.apiKey }).expect(200);
  });

  it('the operator routes replay too: one tenant, one user, one admin key', async () => {
    const key = `tenant-${randomUUID()}`;
    const name = `Replayed ${randomUUID()}`;
    const a = await t.http
      .post('/admin/tenants')
      .set({ ...adminHeaders, 'idempotency-key': key })
      .send({ name })
      .expect(201);
    const b = await t.http
      .post('/admin/tenants')
      .set({ ...adminHeaders, 'idempotency-key': key })
      .send({ name })
      .expect(201);
    expect(b.body).toEqual(a.body);
    expect(await count('SELECT count(*) AS n FROM tenants WHERE name = $1', [name])).toBe(1);

    const user = { email: `u-${randomUUID()}@example.com`, role: 'member', password: strongPassword() };
    // The same key on another route is another request.
    expect(
      (
        await t.http
          .post(`/admin/tenants/${a.body.id}/users`)
          .set({ ...adminHeaders, 'idempotency-key': key })
          .send(user)
      ).body.code,
    ).toBe('IDEMPOTENCY_KEY_REUSED');
    const userKey = `user-${randomUUID()}`;
    const u1 = await t.http
      .post(`/admin/tenants/${a.body.id}/users`)
      .set({ ...adminHeaders, 'idempotency-key': userKey })
      .send(user)
      .expect(201);
    const u2 = await t.http
      .post(`/admin/tenants/${a.body.id}/users`)
      .set({ ...adminHeaders, 'idempotency-key': userKey })
      .send(user)
      .expect(201);
    expect(u2.body).toEqual(u1.body);
    expect(await count('SELECT count(*) AS n FROM users WHERE tenant_id = $1', [a.body.id])).toBe(1);
  });

  it('the same key with another body is refused with 422 IDEMPOTENCY_KEY_REUSED, and nothing is created', async () => {
    const tenant = await createTenant(t);
    const manager = await managerKey(tenant.id);
    const headers = { 'x-api-key': manager, 'idempotency-key': 'reused' };
    issued.push((await t.http.post('/v1/api-keys').set(headers).send({ name: 'one' }).expect(201)).body.apiKey);
    const res = await t.http.post('/v1/api-keys').set(headers).send({ name: 'two' });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await keysNamed(tenant.id, 'two')).toBe(0);
  });

  it('rejects a malformed Idempotency-Key with 400', async () => {
    for (const bad of ['x'.repeat(256), 'tab\there', 'ünïcode']) {
      const res = await t.http
        .post('/admin/tenants')
        .set({ ...adminHeaders, 'idempotency-key': bad })
        .send({ name: `Bad ${randomUUID()}` });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('IDEMPOTENCY_KEY_INVALID');
    }
    expect(await count('SELECT count(*) AS n FROM tenants WHERE name LIKE $1', ['Bad %'])).toBe(0);
  });

  it('concurrent duplicates create exactly one key; the others wait (409) or replay it', async () => {
    const tenant = await createTenant(t);
    const manager = await managerKey(tenant.id);
    const headers = { 'x-api-key': manager, 'idempotency-key': 'burst' };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => t.http.post('/v1/api-keys').set(headers).send({ name: 'burst' })),
    );
    const created = responses.filter((r) => r.status === 201);
    for (const r of responses) {
      expect([201, 409]).toContain(r.status);
      if (r.status === 409) expect(r.body.code).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
    }
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    issued.push(created[0].body.apiKey);
    expect(await keysNamed(tenant.id, 'burst')).toBe(1);
  });

  it('a key is remembered for 24 hours; after that it starts afresh, and the prune job removes it', async () => {
    const tenant = await createTenant(t);
    const manager = await managerKey(tenant.id);
    const headers = { 'x-api-key': manager, 'idempotency-key': 'daily' };
    issued.push((await t.http.post('/v1/api-keys').set(headers).send({ name: 'daily' }).expect(201)).body.apiKey);
    jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => new Date(Date.now() + 23 * HOUR));
    expect(
      (await t.http.post('/v1/api-keys').set(headers).send({ name: 'daily' }).expect(201)).headers[
        'idempotent-replayed'
      ],
    ).toBe('true');
    expect(await keysNamed(tenant.id, 'daily')).toBe(1);

    jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => new Date(Date.now() + 25 * HOUR));
    const fresh = await t.http.post('/v1/api-keys').set(headers).send({ name: 'daily' }).expect(201);
    issued.push(fresh.body.apiKey);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();
    expect(await keysNamed(tenant.id, 'daily')).toBe(2);

    const before = await count('SELECT count(*) AS n FROM idempotency_keys', []);
    expect(await t.app.get(IdempotencyService).prune(new Date(Date.now() + 49 * HOUR))).toBeGreaterThan(0);
    expect(await count('SELECT count(*) AS n FROM idempotency_keys', [])).toBeLessThan(before);
    expect(
      await count('SELECT count(*) AS n FROM idempotency_keys WHERE created_at < $1', [
        new Date(Date.now() + 25 * HOUR),
      ]),
    ).toBe(0);
  });

  it('keys are per tenant and per caller: the same key in another tenant creates its own key', async () => {
    const [a, b] = [await createTenant(t), await createTenant(t)];
    const [ka, kb] = [await managerKey(a.id), await managerKey(b.id)];
    const ra = await t.http
      .post('/v1/api-keys')
      .set({ 'x-api-key': ka, 'idempotency-key': 'shared' })
      .send({ name: 'same' })
      .expect(201);
    const rb = await t.http
      .post('/v1/api-keys')
      .set({ 'x-api-key': kb, 'idempotency-key': 'shared' })
      .send({ name: 'same' })
      .expect(201);
    issued.push(ra.body.apiKey, rb.body.apiKey);
    expect(rb.headers['idempotent-replayed']).toBeUndefined();
    expect(rb.body.id).not.toBe(ra.body.id);
    expect(await keysNamed(a.id, 'same')).toBe(1);
    expect(await keysNamed(b.id, 'same')).toBe(1);

    // A signed-in user of tenant A with the same key gets their own result, not the service key's.
    const owner = await signIn(t, await createUser(t, a.id, 'owner'));
    const ru = await t.http
      .post('/auth/api-key/generate')
      .set({ ...owner.auth, 'idempotency-key': 'shared' })
      .send({ name: 'same' })
      .expect(201);
    issued.push(ru.body.apiKey);
    expect(ru.body.id).not.toBe(ra.body.id);
  });

  it("replays only to the exact credential: a narrow key of the same owner never gets a broad key's stored response", async () => {
    const tenant = await createTenant(t);
    const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
    const mint = async (scopes: string[]) => {
      const res = await t.http
        .post('/auth/api-key/generate')
        .set(owner.auth)
        .send({ name: `k-${randomUUID()}`, scopes })
        .expect(201);
      issued.push(res.body.apiKey);
      return res.body.apiKey as string;
    };
    const broad = await mint([...SCOPES]);
    const narrow = await mint(['keys:write']);
    const request = { name: 'secrets-reader', scopes: ['config:read', 'config:secrets'] };
    const first = await t.http
      .post('/v1/api-keys')
      .set({ 'x-api-key': broad, 'idempotency-key': 'cross-key' })
      .send(request)
      .expect(201);
    issued.push(first.body.apiKey);

    // Same owner, same Idempotency-Key, same body: the narrow key runs as its own request and is refused.
    const replayed = await t.http
      .post('/v1/api-keys')
      .set({ 'x-api-key': narrow, 'idempotency-key': 'cross-key' })
      .send(request);
    expect(replayed.headers['idempotent-replayed']).toBeUndefined();
    expect(replayed.status).toBe(403);
    expect(JSON.stringify(replayed.body)).not.toContain(first.body.apiKey);
    expect(await keysNamed(tenant.id, 'secrets-reader')).toBe(1);

    // A second sign-in of the same user is another credential too.
    const again = await signIn(t, owner);
    const other = await t.http
      .post('/auth/api-key/generate')
      .set({ ...again.auth, 'idempotency-key': 'per-session' })
      .send({ name: 'per-session' })
      .expect(201);
    const mine = await t.http
      .post('/auth/api-key/generate')
      .set({ ...owner.auth, 'idempotency-key': 'per-session' })
      .send({ name: 'per-session' })
      .expect(201);
    issued.push(other.body.apiKey, mine.body.apiKey);
    expect(mine.headers['idempotent-replayed']).toBeUndefined();
    expect(mine.body.id).not.toBe(other.body.id);
    // The original credential still gets its replay.
    const own = await t.http
      .post('/v1/api-keys')
      .set({ 'x-api-key': broad, 'idempotency-key': 'cross-key' })
      .send(request)
      .expect(201);
    expect(own.headers['idempotent-replayed']).toBe('true');
  });

  it('rotation and invitations replay as well', async () => {
    const tenant = await createTenant(t);
    const manager = await managerKey(tenant.id);
    const target = await t.http
      .post('/v1/api-keys')
      .set({ 'x-api-key': manager })
      .send({ name: 'to-rotate' })
      .expect(201);
    issued.push(target.body.apiKey);
    const headers = { 'x-api-key': manager, 'idempotency-key': 'rotate-once' };
    const r1 = await t.http.post(`/v1/api-keys/${target.body.id}/rotate`).set(headers).send({}).expect(201);
    const r2 = await t.http.post(`/v1/api-keys/${target.body.id}/rotate`).set(headers).send({}).expect(201);
    issued.push(r1.body.apiKey);
    expect(r2.body).toEqual(r1.body);
    expect(await keysNamed(tenant.id, 'to-rotate')).toBe(2);

    const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
    const invite = { email: `invitee-${randomUUID()}@example.com`, role: 'member' };
    const i1 = await t.http
      .post('/v1/users/invitations')
      .set({ ...owner.auth, 'idempotency-key': 'invite' })
      .send(invite);
    expect(i1.status).toBeLessThan(300);
    const i2 = await t.http
      .post('/v1/users/invitations')
      .set({ ...owner.auth, 'idempotency-key': 'invite' })
      .send(invite);
    expect(i2.status).toBe(i1.status);
    expect(i2.body).toEqual(i1.body);
  });

  it('stores no full key in plain text: responses are sealed', async () => {
    expect(issued.length).toBeGreaterThan(5);
    const rows: { response: string | null }[] = await db().query('SELECT response FROM idempotency_keys');
    const dump = JSON.stringify(rows);
    expect(rows.some((r) => r.response)).toBe(true);
    for (const key of issued) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice(3, 30));
    }
  });
});
