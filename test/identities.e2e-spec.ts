import { randomBytes } from 'node:crypto';
import { Response } from 'supertest';
import { DataSource } from 'typeorm';
import { SCOPES } from '../src/common/auth/scopes';
import { adminHeaders, createTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';
import { createTestDatabase, describeOnPostgres, dropTestDatabase } from './helpers/test-database';

type Body = Record<string, any>;
type Headers = Record<string, string>;

const unique = () => randomBytes(4).toString('hex');
const withKey = (key: string): Headers => ({ 'x-api-key': key });
const count = (values: string[]) =>
  values.reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {});
const verdict = (res: Response): string => (res.status === 200 ? String(res.body.code) : `HTTP ${res.status}`);

/** Instances of one deployment share their secrets (the pepper makes the same key hash alike). */
const SHARED_SECRETS = {
  JWT_SECRET: 'identities-jwt-secret-0123456789abcdefghijklm',
  KEY_PEPPER: 'identities-key-pepper-0123456789abcdefghijklm',
  CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32),
};

/** A tenant with a key of every scope (the tenant's manager) and a key that only verifies. */
async function tenantWithKeys(t: TestApp) {
  const tenant = await createTenant(t);
  const make = async (body: Body) =>
    (
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId: tenant.id, ...body })
        .expect(201)
    ).body;
  // No limit of its own (the tenant's 100/s), so the keys it makes have the tenant's default too.
  const manager = await make({ scopes: [...SCOPES] });
  const verifier = await make({ scopes: ['keys:verify'], rateLimit: { limit: 100_000, windowSeconds: 1 } });
  const auth = withKey(manager.apiKey);
  const createKey = async (body: Body): Promise<Body> =>
    (await t.http.post('/v1/api-keys').set(auth).send(body).expect(201)).body;
  const verify = (key: string, body: Body = {}) =>
    t.http
      .post('/v1/keys/verify')
      .set(withKey(verifier.apiKey))
      .send({ key, ...body });
  return { tenant, manager, verifier, auth, createKey, verify };
}

describe('identities: keys of one externalId', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('creates, lists, gets, changes and deletes identities, each change audited; bad input is a 400', async () => {
    const { auth, createKey } = await tenantWithKeys(t);
    const externalId = `org_${unique()}`;
    const created = await t.http
      .post('/v1/identities')
      .set(auth)
      .send({ externalId, meta: { plan: 'pro' }, ratelimits: [{ name: 'default', limit: 5, windowSeconds: 60 }] })
      .expect(201);
    expect(created.body).toMatchObject({
      externalId,
      meta: { plan: 'pro' },
      ratelimits: [{ name: 'default', limit: 5, windowSeconds: 60 }],
      quota: null,
    });
    const again = await t.http.post('/v1/identities').set(auth).send({ externalId }).expect(409);
    expect(again.body.code).toBe('IDENTITY_EXISTS');

    expect((await t.http.get(`/v1/identities/${externalId}`).set(auth).expect(200)).body.id).toBe(created.body.id);
    const list = await t.http.get('/v1/identities').set(auth).expect(200);
    expect(list.body.items.map((i: Body) => i.externalId)).toContain(externalId);

    const patched = await t.http
      .patch(`/v1/identities/${externalId}`)
      .set(auth)
      .send({ meta: { plan: 'enterprise' }, quota: { remaining: 10 } })
      .expect(200);
    expect(patched.body).toMatchObject({ meta: { plan: 'enterprise' }, quota: { remaining: 10, refill: null } });

    // Keys use it: deleting is refused with their ids, unless forced; forced, the key leaves it.
    const key = await createKey({ externalId });
    const refused = await t.http.delete(`/v1/identities/${externalId}`).set(auth).expect(409);
    expect(refused.body).toMatchObject({ code: 'IDENTITY_IN_USE', details: { keyIds: [key.id] } });
    await t.http.delete(`/v1/identities/${externalId}`).query({ force: 'true' }).set(auth).expect(204);
    await t.http.get(`/v1/identities/${externalId}`).set(auth).expect(404);
    expect((await t.http.get(`/v1/api-keys/${key.id}`).set(auth).expect(200)).body.externalId).toBeNull();

    const events = (await t.http.get('/v1/audit-events').query({ limit: 100 }).set(auth).expect(200)).body.items;
    const actions = events.filter((e: Body) => e.target?.id === created.body.id).map((e: Body) => e.action);
    expect(actions.sort()).toEqual(['identity.created', 'identity.deleted', 'identity.updated']);

    const bad: [string, string, Body | undefined, string][] = [
      ['POST', '/v1/identities', { externalId: 'has space' }, 'externalId'],
      ['POST', '/v1/identities', { externalId: 'x'.repeat(129) }, 'externalId'],
      ['POST', '/v1/identities', { externalId: 'ok', meta: { big: 'x'.repeat(5000) } }, 'meta'],
      ['POST', '/v1/identities', { externalId: 'ok', meta: [1] }, 'meta'],
      [
        'POST',
        '/v1/identities',
        { externalId: 'ok', ratelimits: [{ name: 'a b', limit: 1, windowSeconds: 1 }] },
        'names',
      ],
      [
        'POST',
        '/v1/identities',
        {
          externalId: 'ok',
          ratelimits: [
            { name: 'a', limit: 1, windowSeconds: 1 },
            { name: 'a', limit: 2, windowSeconds: 1 },
          ],
        },
        'twice',
      ],
      [
        'POST',
        '/v1/identities',
        {
          externalId: 'ok',
          ratelimits: Array.from({ length: 11 }, (_, i) => ({ name: `l${i}`, limit: 1, windowSeconds: 1 })),
        },
        'at most 10',
      ],
      [
        'POST',
        '/v1/identities',
        { externalId: 'ok', ratelimits: [{ name: 'a', limit: 0, windowSeconds: 1 }] },
        'limit',
      ],
      ['GET', '/v1/identities/bad%20id', undefined, 'externalId'],
      ['DELETE', `/v1/identities/${externalId}?force=yes`, undefined, 'force'],
      ['GET', '/v1/api-keys?externalId=%00', undefined, 'externalId'],
      ['POST', '/v1/api-keys', { externalId: '' }, 'externalId'],
    ];
    for (const [method, path, body, words] of bad) {
      const res = await t.http[method.toLowerCase() as 'post'](path).set(auth).send(body);
      expect([method, path, res.status]).toEqual([method, path, 400]);
      expect(JSON.stringify(res.body.message)).toContain(words);
    }
  });

  it('keys made with an externalId join it (made on the fly), are listed by it, and verify with its meta', async () => {
    const { auth, createKey, verify } = await tenantWithKeys(t);
    const externalId = `user_${unique()}@example.com`;
    const one = await createKey({ name: 'one', externalId });
    const two = await createKey({ name: 'two', externalId });
    const other = await createKey({ name: 'other' });
    expect([one.externalId, two.externalId, other.externalId]).toEqual([externalId, externalId, null]);

    const identity = (await t.http.get(`/v1/identities/${externalId}`).set(auth).expect(200)).body;
    expect(identity.meta).toEqual({});
    const listed = await t.http.get('/v1/api-keys').query({ externalId }).set(auth).expect(200);
    expect(listed.body.items.map((k: Body) => k.name).sort()).toEqual(['one', 'two']);
    expect((await t.http.get('/v1/api-keys').query({ externalId: 'nobody' }).set(auth).expect(200)).body.total).toBe(0);

    const first = await verify(one.apiKey).expect(200);
    expect(first.body).toMatchObject({
      valid: true,
      identity: { externalId, meta: {} },
      remaining: null,
      ratelimits: [{ name: 'default', limit: 100, remaining: 99 }],
    });
    expect((await verify(other.apiKey).expect(200)).body.identity).toBeNull();

    // A change of meta reaches the (cached) key at once.
    await t.http
      .patch(`/v1/identities/${externalId}`)
      .set(auth)
      .send({ meta: { tier: 'gold' } })
      .expect(200);
    expect((await verify(one.apiKey).expect(200)).body.identity).toEqual({ externalId, meta: { tier: 'gold' } });

    // PATCH moves a key in and out of an identity.
    await t.http.patch(`/v1/api-keys/${other.id}`).set(auth).send({ externalId }).expect(200);
    expect((await verify(other.apiKey).expect(200)).body.identity.externalId).toBe(externalId);
    const out = await t.http.patch(`/v1/api-keys/${other.id}`).set(auth).send({ externalId: null }).expect(200);
    expect(out.body.externalId).toBeNull();
    expect((await verify(other.apiKey).expect(200)).body.identity).toBeNull();

    // Rotation keeps the identity.
    const rotated = (await t.http.post(`/v1/api-keys/${one.id}/rotate`).set(auth).send({}).expect(201)).body;
    expect(rotated.externalId).toBe(externalId);
    expect((await verify(rotated.apiKey).expect(200)).body.identity.externalId).toBe(externalId);
  });

  it('two keys of one identity share one rate limit and one quota exactly, under concurrent verifies', async () => {
    const { auth, createKey, verify, tenant } = await tenantWithKeys(t);
    const externalId = `org_${unique()}`;
    await t.http
      .post('/v1/identities')
      .set(auth)
      .send({ externalId, ratelimits: [{ name: 'default', limit: 10, windowSeconds: 60 }] })
      .expect(201);
    const a = await createKey({ externalId });
    const b = await createKey({ externalId });
    const limited = await Promise.all(Array.from({ length: 40 }, (_, i) => verify(i % 2 ? a.apiKey : b.apiKey)));
    expect(count(limited.map(verdict))).toEqual({ VALID: 10, RATE_LIMITED: 30 });
    const refusal = limited.find((res) => res.body.code === 'RATE_LIMITED')!;
    expect(refusal.body).toMatchObject({ valid: false, ratelimits: [{ name: 'default', limit: 10, remaining: 0 }] });

    // A shared quota of 7, and key c's own quota of 3 on top: c gets at most 3, both together 7.
    const quotaId = `org_${unique()}`;
    await t.http
      .post('/v1/identities')
      .set(auth)
      .send({ externalId: quotaId, quota: { remaining: 7 } })
      .expect(201);
    const c = await createKey({ externalId: quotaId, quota: { remaining: 3 } });
    const d = await createKey({ externalId: quotaId });
    const burst = (keys: string[]) =>
      Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          verify(keys[i % keys.length]).then((res) => [i % keys.length, res] as const),
        ),
      );
    const db = t.app.get(DataSource);
    const identityLeft = async () =>
      (
        await db.query('SELECT quota_remaining FROM identities WHERE tenant_id = $1 AND external_id = $2', [
          tenant.id,
          quotaId,
        ])
      )[0].quota_remaining;
    // c alone: its own quota binds (3), and only those 3 are spent from the identity's 7.
    const first = await burst([c.apiKey]);
    expect(count(first.map(([, res]) => verdict(res)))).toEqual({ VALID: 3, QUOTA_EXCEEDED: 37 });
    expect(await identityLeft()).toBe(4);
    // Then both at once: exactly the identity's 4 left, all through d (c has none of its own left).
    const spent = await burst([c.apiKey, d.apiKey]);
    const byKey = (which: number) => count(spent.filter(([k]) => k === which).map(([, res]) => verdict(res)));
    expect(count(spent.map(([, res]) => verdict(res)))).toEqual({ VALID: 4, QUOTA_EXCEEDED: 36 });
    expect(byKey(0)).toEqual({ QUOTA_EXCEEDED: 20 });
    expect(byKey(1)).toEqual({ VALID: 4, QUOTA_EXCEEDED: 16 });
    expect(await identityLeft()).toBe(0);
    const [own] = await db.query('SELECT quota_remaining FROM api_keys WHERE id = $1', [c.id]);
    expect(own.quota_remaining).toBe(0);
    const remaining = spent.filter(([, res]) => res.body.valid).map(([, res]) => res.body.remaining);
    expect(Math.min(...remaining)).toBe(0);
  });

  it('the normal request path spends the identity’s default limit too (RateLimit headers, 429)', async () => {
    const { auth, createKey } = await tenantWithKeys(t);
    const externalId = `org_${unique()}`;
    await t.http
      .post('/v1/identities')
      .set(auth)
      .send({ externalId, ratelimits: [{ name: 'default', limit: 3, windowSeconds: 60 }] })
      .expect(201);
    const a = await createKey({ externalId, scopes: ['config:read'] });
    const b = await createKey({ externalId, scopes: ['config:read'] });
    const statuses = [];
    for (const key of [a, b, a, b]) statuses.push((await t.http.get('/config').set(withKey(key.apiKey))).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('revoking by externalId revokes all its keys in one call, audited; they then fail verification', async () => {
    const { auth, createKey, verify } = await tenantWithKeys(t);
    const externalId = `org_${unique()}`;
    const a = await createKey({ externalId });
    const b = await createKey({ externalId });
    const bystander = await createKey({});
    expect((await verify(a.apiKey).expect(200)).body.valid).toBe(true);
    const res = await t.http.post(`/v1/identities/${externalId}/revoke-keys`).set(auth).expect(200);
    expect(res.body).toEqual({ revoked: 2, keyIds: [a.id, b.id].sort() });
    for (const key of [a, b])
      expect((await verify(key.apiKey).expect(200)).body).toMatchObject({ valid: false, code: 'KEY_REVOKED' });
    expect((await verify(bystander.apiKey).expect(200)).body.valid).toBe(true);
    // Nothing left to revoke; an unknown identity is a 404.
    expect((await t.http.post(`/v1/identities/${externalId}/revoke-keys`).set(auth).expect(200)).body.revoked).toBe(0);
    await t.http.post('/v1/identities/nobody/revoke-keys').set(auth).expect(404);
    const events = (await t.http.get('/v1/audit-events').query({ limit: 100 }).set(auth).expect(200)).body.items;
    expect(events.filter((e: Body) => e.action === 'key.revoked' && [a.id, b.id].includes(e.target.id))).toHaveLength(
      2,
    );
    expect(events.find((e: Body) => e.action === 'identity.keys_revoked').metadata.keyIds).toEqual([a.id, b.id].sort());
  });

  it('named limits: a verify call spends the ones it names by their cost; quota by cost, 0 only checks', async () => {
    const { createKey, verify } = await tenantWithKeys(t);
    const key = await createKey({
      ratelimits: [{ name: 'expensive', limit: 3, windowSeconds: 60 }],
      quota: { remaining: 5 },
    });
    expect(key.ratelimits).toEqual([{ name: 'expensive', limit: 3, windowSeconds: 60 }]);
    const spend = { ratelimits: [{ name: 'expensive', cost: 2 }], cost: 0 };
    const before = Date.now();
    const first = (await verify(key.apiKey, spend).expect(200)).body;
    expect(first).toMatchObject({
      valid: true,
      remaining: 5,
      ratelimits: [{ name: 'expensive', limit: 3, remaining: 1 }],
    });
    // When the 60 s window ends, in Unix milliseconds.
    expect(first.ratelimits[0].reset).toBeGreaterThan(before);
    expect(first.ratelimits[0].reset).toBeLessThanOrEqual(Date.now() + 60_000);
    const second = (await verify(key.apiKey, spend).expect(200)).body;
    expect(second).toMatchObject({
      valid: false,
      code: 'RATE_LIMITED',
      ratelimits: [{ name: 'expensive', limit: 3, remaining: 0 }],
    });
    // The default limit is its own counter; the quota is spent by cost.
    const three = (await verify(key.apiKey, { cost: 3 }).expect(200)).body;
    expect(three).toMatchObject({ valid: true, remaining: 2, ratelimits: [{ name: 'default' }] });
    const tooMuch = (await verify(key.apiKey, { cost: 3 }).expect(200)).body;
    expect(tooMuch).toMatchObject({ valid: false, code: 'QUOTA_EXCEEDED', remaining: 2 });
    expect((await verify(key.apiKey, { cost: 2 }).expect(200)).body).toMatchObject({ valid: true, remaining: 0 });
    expect((await verify(key.apiKey, { cost: 0 }).expect(200)).body).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    // A name the key has no limit of limits nothing.
    expect(
      (await verify(key.apiKey, { ratelimits: [{ name: 'search' }], cost: 0 }).expect(200)).body.ratelimits,
    ).toEqual([]);
  });

  it('the old rateLimit field is the limit named default, and bad limits or spends are 400s', async () => {
    const { auth, createKey, verify } = await tenantWithKeys(t);
    const old = await createKey({ rateLimit: { limit: 7, windowSeconds: 10 } });
    expect(old.ratelimits).toEqual([{ name: 'default', limit: 7, windowSeconds: 10 }]);
    const named = await createKey({ ratelimits: [{ name: 'default', limit: 2, windowSeconds: 60 }] });
    expect(named.rateLimit).toEqual({ limit: 2, windowSeconds: 60 });
    expect((await verify(named.apiKey).expect(200)).body.ratelimits[0]).toMatchObject({ limit: 2, remaining: 1 });
    const patched = await t.http
      .patch(`/v1/api-keys/${old.id}`)
      .set(auth)
      .send({ ratelimits: [{ name: 'search', limit: 9, windowSeconds: 1 }] })
      .expect(200);
    expect(patched.body.ratelimits).toEqual([
      { name: 'default', limit: 7, windowSeconds: 10 },
      { name: 'search', limit: 9, windowSeconds: 1 },
    ]);

    const both = await t.http
      .post('/v1/api-keys')
      .set(auth)
      .send({
        rateLimit: { limit: 1, windowSeconds: 1 },
        ratelimits: [{ name: 'default', limit: 2, windowSeconds: 1 }],
      })
      .expect(400);
    expect(both.body.message).toContain('not both');
    const badSpends: Body[] = [
      { ratelimits: [{ name: 'a b' }] },
      { ratelimits: [{ name: 'x', cost: -1 }] },
      { ratelimits: [{ name: 'x', cost: 1.5 }] },
      { ratelimits: [{ name: 'x', weight: 1 }] },
      { ratelimits: [{ name: 'x' }, { name: 'x' }] },
      { ratelimits: Array.from({ length: 11 }, (_, i) => ({ name: `l${i}` })) },
      { ratelimits: 'default' },
      { cost: -1 },
      { cost: '1' },
    ];
    for (const body of badSpends) {
      const res = await verify(old.apiKey, body);
      expect([JSON.stringify(body), res.status, res.body.code]).toEqual([
        JSON.stringify(body),
        400,
        'VALIDATION_FAILED',
      ]);
    }
  });

  it('a key of an identity keeps the keys it makes in it and cannot change or delete the identity', async () => {
    const { auth, createKey } = await tenantWithKeys(t);
    const externalId = `org_${unique()}`;
    await t.http
      .post('/v1/identities')
      .set(auth)
      .send({ externalId, ratelimits: [{ name: 'default', limit: 5, windowSeconds: 60 }] })
      .expect(201);
    const bound = await createKey({ externalId, scopes: ['keys:read', 'keys:write'] });
    const boundAuth = withKey(bound.apiKey);
    const child = (await t.http.post('/v1/api-keys').set(boundAuth).send({}).expect(201)).body;
    expect(child.externalId).toBe(externalId);
    const elsewhere = await t.http
      .post('/v1/api-keys')
      .set(boundAuth)
      .send({ externalId: `x${unique()}` })
      .expect(403);
    expect(elsewhere.body.code).toBe('IDENTITY_NOT_ALLOWED');
    await t.http.patch(`/v1/api-keys/${child.id}`).set(boundAuth).send({ externalId: null }).expect(403);
    const lift = await t.http.patch(`/v1/identities/${externalId}`).set(boundAuth).send({ ratelimits: [] }).expect(403);
    expect(lift.body.code).toBe('IDENTITY_NOT_ALLOWED');
    await t.http.delete(`/v1/identities/${externalId}?force=true`).set(boundAuth).expect(403);
    // The tenant's own key may.
    await t.http.patch(`/v1/identities/${externalId}`).set(auth).send({ ratelimits: [] }).expect(200);
  });

  it('an identity of another tenant is not found, and its keys are not listed', async () => {
    const first = await tenantWithKeys(t);
    const second = await tenantWithKeys(t);
    const externalId = `org_${unique()}`;
    await first.createKey({ externalId });
    await t.http.get(`/v1/identities/${externalId}`).set(second.auth).expect(404);
    await t.http.patch(`/v1/identities/${externalId}`).set(second.auth).send({ meta: {} }).expect(404);
    await t.http.post(`/v1/identities/${externalId}/revoke-keys`).set(second.auth).expect(404);
    await t.http.delete(`/v1/identities/${externalId}`).set(second.auth).expect(404);
    expect((await t.http.get('/v1/api-keys').query({ externalId }).set(second.auth).expect(200)).body.total).toBe(0);
    // The same externalId is a different identity in the second tenant.
    const theirs = await second.createKey({ externalId });
    expect(theirs.externalId).toBe(externalId);
    const listed = await t.http.get('/v1/api-keys').query({ externalId }).set(second.auth).expect(200);
    expect(listed.body.items.map((k: Body) => k.id)).toEqual([theirs.id]);
  });
});

/**
 * Two instances on one PostgreSQL database and one Redis: an identity's limit is one counter
 * for both, its quota one row, and a change of the identity on one reaches the other's cache.
 */
describeOnPostgres('identities across two instances (PostgreSQL, Redis)', () => {
  let databaseName: string | undefined;
  let a!: TestApp;
  let b!: TestApp;

  beforeAll(async () => {
    databaseName = await createTestDatabase();
    const env = { ...SHARED_SECRETS, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: `kwtest-${unique()}` };
    a = await createTestApp({ reuseDatabase: { name: databaseName }, env });
    b = await createTestApp({ reuseDatabase: { name: databaseName }, env });
  });

  afterAll(async () => {
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    if (databaseName) await dropTestDatabase(databaseName);
  });

  it('concurrent verifies through two keys on two instances: exactly the shared limit, then exactly the quota', async () => {
    const { auth, createKey, verifier } = await tenantWithKeys(a);
    const verifyOn = (t: TestApp, key: string, body: Body = {}) =>
      t.http
        .post('/v1/keys/verify')
        .set(withKey(verifier.apiKey))
        .send({ key, ...body });

    const limitedId = `org_${unique()}`;
    await a.http
      .post('/v1/identities')
      .set(auth)
      .send({ externalId: limitedId, ratelimits: [{ name: 'burst', limit: 12, windowSeconds: 60 }] })
      .expect(201);
    const k1 = await createKey({ externalId: limitedId });
    const k2 = await createKey({ externalId: limitedId });
    const spend = { ratelimits: [{ name: 'burst' }] };
    const limited = await Promise.all(
      Array.from({ length: 48 }, (_, i) => verifyOn(i % 2 ? a : b, i % 4 < 2 ? k1.apiKey : k2.apiKey, spend)),
    );
    expect(count(limited.map(verdict))).toEqual({ VALID: 12, RATE_LIMITED: 36 });

    const quotaId = `org_${unique()}`;
    await a.http
      .post('/v1/identities')
      .set(auth)
      .send({ externalId: quotaId, quota: { remaining: 9 } })
      .expect(201);
    const q1 = await createKey({ externalId: quotaId });
    const q2 = await createKey({ externalId: quotaId });
    const spent = await Promise.all(
      Array.from({ length: 40 }, (_, i) => verifyOn(i % 2 ? a : b, i % 4 < 2 ? q1.apiKey : q2.apiKey, { cost: 1 })),
    );
    expect(count(spent.map(verdict))).toEqual({ VALID: 9, QUOTA_EXCEEDED: 31 });
  });

  it('a change of the identity on A reaches B, which had the key cached, within a second', async () => {
    const { auth, createKey, verifier } = await tenantWithKeys(a);
    const externalId = `org_${unique()}`;
    const key = await createKey({ externalId });
    const onB = () =>
      b.http.post('/v1/keys/verify').set(withKey(verifier.apiKey)).send({ key: key.apiKey }).expect(200);
    expect((await onB()).body.identity).toEqual({ externalId, meta: {} });

    await a.http
      .patch(`/v1/identities/${externalId}`)
      .set(auth)
      .send({ meta: { plan: 'pro' } })
      .expect(200);
    const changedAt = Date.now();
    let seen: Body | undefined;
    while (Date.now() - changedAt < 1_000) {
      seen = (await onB()).body.identity;
      if (seen?.meta.plan === 'pro') break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(seen).toEqual({ externalId, meta: { plan: 'pro' } });

    await a.http
      .patch(`/v1/identities/${externalId}`)
      .set(auth)
      .send({ ratelimits: [{ name: 'default', limit: 1, windowSeconds: 60 }] })
      .expect(200);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const codes = [(await onB()).body.code, (await onB()).body.code];
    expect(codes).toEqual(['VALID', 'RATE_LIMITED']);
  });
});
