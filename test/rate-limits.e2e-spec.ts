import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import request, { Response } from 'supertest';
import { DataSource } from 'typeorm';
import { SCOPES } from '../src/common/auth/scopes';
import { Clock } from '../src/common/clock';
import { RateLimitService } from '../src/rate-limit/rate-limit.service';
import { adminHeaders, createTenant } from './helpers/identity';
import { createTestApp, freePort, TestApp } from './helpers/test-app';

type Body = Record<string, unknown>;
const DAY = 86_400_000;
const withKey = (key: string) => ({ 'x-api-key': key });
const outcome = (res: Response): string => (res.status < 300 ? String(res.status) : `${res.status} ${res.body?.code}`);
const count = (outcomes: string[]) =>
  outcomes.reduce<Record<string, number>>((acc, o) => ((acc[o] = (acc[o] ?? 0) + 1), acc), {});

/** Instances of one deployment share their secrets (the pepper makes the same key hash alike). */
const SHARED_SECRETS = {
  JWT_SECRET: 'rate-limits-jwt-secret-0123456789abcdefghijk',
  KEY_PEPPER: 'rate-limits-key-pepper-0123456789abcdefghijk',
  CONFIG_ENCRYPTION_KEY: 'ef'.repeat(32),
};

async function adminKey(t: TestApp, tenantId: string, body: Body = {}): Promise<{ id: string; apiKey: string } & Body> {
  const res = await t.http
    .post('/admin/api-keys')
    .set(adminHeaders)
    .send({ tenantId, ...body });
  expect(outcome(res)).toBe('201');
  return res.body;
}

describe('rate limits and quotas (in memory)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ listen: true });
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  it('puts RateLimit headers on every key-authenticated response and answers 429 RATE_LIMITED with Retry-After past the limit', async () => {
    const tenant = await createTenant(t);
    const key = await adminKey(t, tenant.id, { rateLimit: { limit: 3, windowSeconds: 60 } });
    const results: Response[] = [];
    for (let i = 0; i < 4; i++) results.push(await t.http.get('/config').set(withKey(key.apiKey)));
    expect(results.map(outcome)).toEqual(['200', '200', '200', '429 RATE_LIMITED']);
    expect(results.map((r) => r.headers['ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    for (const res of results) {
      expect(res.headers['ratelimit-limit']).toBe('3');
      expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
    }
    expect(Number(results[3].headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(results[0].headers['retry-after']).toBeUndefined();
    // Another key is not affected.
    const other = await adminKey(t, tenant.id, { rateLimit: { limit: 3, windowSeconds: 60 } });
    expect(outcome(await t.http.get('/config').set(withKey(other.apiKey)))).toBe('200');
  });

  it('applies the tenant default to keys without a limit, and a PATCH of either takes effect at once', async () => {
    const tenant = await createTenant(t);
    const manager = await adminKey(t, tenant.id, {
      scopes: [...SCOPES],
      rateLimit: { limit: 1000, windowSeconds: 60 },
    });
    const plain = await adminKey(t, tenant.id);
    const first = await t.http.get('/config').set(withKey(plain.apiKey)).expect(200);
    expect(first.headers['ratelimit-limit']).toBe('100');

    const patched = await t.http
      .patch(`/admin/tenants/${tenant.id}`)
      .set(adminHeaders)
      .send({ defaultKeyRateLimit: { limit: 2, windowSeconds: 60 } })
      .expect(200);
    expect(patched.body.defaultKeyRateLimit).toEqual({ limit: 2, windowSeconds: 60 });
    const after = [];
    for (let i = 0; i < 3; i++) after.push(outcome(await t.http.get('/config').set(withKey(plain.apiKey))));
    expect(after).toEqual(['200', '200', '429 RATE_LIMITED']);
    // The manager's own limit is not the tenant default.
    expect((await t.http.get('/config').set(withKey(manager.apiKey)).expect(200)).headers['ratelimit-limit']).toBe(
      '1000',
    );

    await t.http
      .patch(`/v1/api-keys/${plain.id}`)
      .set(withKey(manager.apiKey))
      .send({ rateLimit: { limit: 5, windowSeconds: 60 } })
      .expect(200);
    const own = await t.http.get('/config').set(withKey(plain.apiKey)).expect(200);
    expect(own.headers['ratelimit-limit']).toBe('5');

    await t.http
      .patch(`/admin/tenants/${tenant.id}`)
      .set(adminHeaders)
      .send({ defaultKeyRateLimit: { limit: 0, windowSeconds: 1 } })
      .expect(400);

    // null gives a key back the tenant default (and clears an allowlist), never a 500.
    const reset = await t.http
      .patch(`/v1/api-keys/${plain.id}`)
      .set(withKey(manager.apiKey))
      .send({ rateLimit: null, ipAllowlist: null });
    expect([outcome(reset), reset.body.rateLimit, reset.body.ipAllowlist]).toEqual(['200', null, null]);
  });

  it('spends a quota exactly under concurrency: 200 parallel requests against 50 uses → 50 succeed', async () => {
    const tenant = await createTenant(t);
    const key = await adminKey(t, tenant.id, {
      rateLimit: { limit: 10_000, windowSeconds: 60 },
      quota: { remaining: 50 },
    });
    expect(key.quota).toEqual({ remaining: 50, refill: null, refilledAt: expect.any(String) });
    const http = request(t.url!);
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async () => outcome(await http.get('/config').set(withKey(key.apiKey)))),
    );
    expect(count(outcomes)).toEqual({ '200': 50, '429 QUOTA_EXCEEDED': 150 });
    const [row] = await t.app
      .get(DataSource)
      .query('SELECT quota_remaining FROM api_keys WHERE id = $1 AND tenant_id = $2', [key.id, tenant.id]);
    expect(row.quota_remaining).toBe(0);
  });

  it('refills a quota once its interval has passed (by the Clock), and shows it on the key', async () => {
    const tenant = await createTenant(t);
    const manager = await adminKey(t, tenant.id, { scopes: [...SCOPES] });
    const key = await adminKey(t, tenant.id, { quota: { remaining: 1, refill: { amount: 3, interval: 'day' } } });
    const use = async () => outcome(await t.http.get('/config').set(withKey(key.apiKey)));
    expect([await use(), await use()]).toEqual(['200', '429 QUOTA_EXCEEDED']);

    jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => new Date(Date.now() + DAY + 1_000));
    expect([await use(), await use(), await use(), await use()]).toEqual(['200', '200', '200', '429 QUOTA_EXCEEDED']);
    const dto = (await t.http.get(`/v1/api-keys/${key.id}`).set(withKey(manager.apiKey)).expect(200)).body;
    expect(dto.quota).toMatchObject({ remaining: 0, refill: { amount: 3, interval: 'day' } });

    // PATCH sets a new quota at once, and null removes it.
    await t.http
      .patch(`/v1/api-keys/${key.id}`)
      .set(withKey(manager.apiKey))
      .send({ quota: { remaining: 1 } })
      .expect(200);
    expect([await use(), await use()]).toEqual(['200', '429 QUOTA_EXCEEDED']);
    const unlimited = await t.http
      .patch(`/v1/api-keys/${key.id}`)
      .set(withKey(manager.apiKey))
      .send({ quota: null })
      .expect(200);
    expect(unlimited.body.quota).toBeNull();
    expect(await use()).toBe('200');
  });

  it('a key with a quota cannot give another key more uses than it has', async () => {
    const tenant = await createTenant(t);
    const limited = await adminKey(t, tenant.id, {
      scopes: ['keys:read', 'keys:write', 'config:read'],
      quota: { remaining: 10 },
    });
    const create = async (body: Body) =>
      outcome(await t.http.post('/v1/api-keys').set(withKey(limited.apiKey)).send(body));
    expect(await create({ scopes: ['config:read'] })).toBe('403 QUOTA_NOT_ALLOWED');
    expect(await create({ scopes: ['config:read'], quota: { remaining: 100 } })).toBe('403 QUOTA_NOT_ALLOWED');
    expect(
      await create({ scopes: ['config:read'], quota: { remaining: 5, refill: { amount: 5, interval: 'day' } } }),
    ).toBe('403 QUOTA_NOT_ALLOWED');
    expect(await create({ scopes: ['config:read'], quota: { remaining: 5 } })).toBe('201');
    expect(await create({ quota: { remaining: -1 } })).toBe('400 VALIDATION_FAILED');
  });

  it('a key limited to 3 a minute cannot give itself or a child a faster rate', async () => {
    const tenant = await createTenant(t);
    const limited = await adminKey(t, tenant.id, {
      scopes: ['keys:read', 'keys:write', 'config:read'],
      rateLimit: { limit: 3, windowSeconds: 60 },
    });
    const asLimited = withKey(limited.apiKey);
    // Exactly three requests fit in its minute.
    const raised = await t.http
      .patch(`/v1/api-keys/${limited.id}`)
      .set(asLimited)
      .send({ rateLimit: { limit: 1_000_000, windowSeconds: 1 } });
    const child = await t.http
      .post('/v1/api-keys')
      .set(asLimited)
      .send({ scopes: ['config:read'], rateLimit: { limit: 1_000_000, windowSeconds: 1 } });
    const inherited = await t.http
      .post('/v1/api-keys')
      .set(asLimited)
      .send({ scopes: ['config:read'] });
    expect([outcome(raised), outcome(child), outcome(inherited), inherited.body.rateLimit]).toEqual([
      '403 RATE_LIMIT_NOT_ALLOWED',
      '403 RATE_LIMIT_NOT_ALLOWED',
      '201',
      { limit: 3, windowSeconds: 60 },
    ]);
    expect(outcome(await t.http.get('/config').set(asLimited))).toBe('429 RATE_LIMITED');
  });

  it('rate limits are contained as a rate and as a burst, on create, change and rotate', async () => {
    const tenant = await createTenant(t);
    const perMinute = await adminKey(t, tenant.id, {
      scopes: ['keys:read', 'keys:write', 'config:read'],
      rateLimit: { limit: 60, windowSeconds: 60 },
    });
    const fast = await adminKey(t, tenant.id, {
      scopes: ['config:read'],
      rateLimit: { limit: 1000, windowSeconds: 1 },
    });
    const as = withKey(perMinute.apiKey);
    const create = async (rateLimit: Body) =>
      outcome(
        await t.http
          .post('/v1/api-keys')
          .set(as)
          .send({ scopes: ['config:read'], rateLimit }),
      );
    expect({
      'same rate, bigger burst': await create({ limit: 120, windowSeconds: 120 }),
      'same rate, smaller burst': await create({ limit: 1, windowSeconds: 1 }),
      slower: await create({ limit: 30, windowSeconds: 60 }),
      'itself, faster': outcome(
        await t.http
          .patch(`/v1/api-keys/${perMinute.id}`)
          .set(as)
          .send({ rateLimit: { limit: 61, windowSeconds: 60 } }),
      ),
      // Its own limit removed would mean the tenant default of 100 a second.
      'itself, to the default': outcome(
        await t.http.patch(`/v1/api-keys/${perMinute.id}`).set(as).send({ rateLimit: null }),
      ),
      'rotate a faster key': outcome(await t.http.post(`/v1/api-keys/${fast.id}/rotate`).set(as).send({})),
    }).toEqual({
      'same rate, bigger burst': '403 RATE_LIMIT_NOT_ALLOWED',
      'same rate, smaller burst': '201',
      slower: '201',
      'itself, faster': '403 RATE_LIMIT_NOT_ALLOWED',
      'itself, to the default': '403 RATE_LIMIT_NOT_ALLOWED',
      'rotate a faster key': '403 RATE_LIMIT_NOT_ALLOWED',
    });
    const own = await t.http.get(`/v1/api-keys/${perMinute.id}`).set(as).expect(200);
    expect(own.body.rateLimit).toEqual({ limit: 60, windowSeconds: 60 });
  });

  it('a rotated key and its successors share one quota, so rotating hands out no extra uses', async () => {
    const tenant = await createTenant(t);
    // The manager has no quota, so its requests spend none of the keys' uses.
    const manager = await adminKey(t, tenant.id, { scopes: [...SCOPES] });
    const first = await adminKey(t, tenant.id, { scopes: ['config:read'], quota: { remaining: 6 } });
    const use = async (key: string) => outcome(await t.http.get('/config').set(withKey(key)));
    const rotate = async (id: string) => {
      const res = await t.http
        .post(`/v1/api-keys/${id}/rotate`)
        .set(withKey(manager.apiKey))
        .send({ gracePeriodSeconds: 3_600 });
      expect(outcome(res)).toBe('201');
      return res.body as { id: string; apiKey: string; quota: { remaining: number } };
    };
    expect([await use(first.apiKey), await use(first.apiKey)]).toEqual(['200', '200']);

    const second = await rotate(first.id);
    expect(second.quota.remaining).toBe(4);
    expect([await use(first.apiKey), await use(second.apiKey)]).toEqual(['200', '200']);
    // Rotated again while the first is still in its grace period: all three draw on the newest.
    const third = await rotate(second.id);
    expect(third.quota.remaining).toBe(2);
    expect([await use(first.apiKey), await use(third.apiKey)]).toEqual(['200', '200']);
    expect([await use(first.apiKey), await use(second.apiKey), await use(third.apiKey)]).toEqual([
      '429 QUOTA_EXCEEDED',
      '429 QUOTA_EXCEEDED',
      '429 QUOTA_EXCEEDED',
    ]);
    const rows: { quota_remaining: number }[] = await t.app
      .get(DataSource)
      .query('SELECT quota_remaining FROM api_keys WHERE id = $1 AND tenant_id = $2', [third.id, tenant.id]);
    expect(rows[0].quota_remaining).toBe(0);
  });
});

/** Two instances, each on its own database holding the same key, share one Redis. */
async function twoInstances(redisUrl: string, prefix: string, rateLimit: Body) {
  const env = { ...SHARED_SECRETS, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };
  const a = await createTestApp({ env });
  const b = await createTestApp({ env });
  const tenant = await createTenant(a);
  const key = await adminKey(a, tenant.id, { rateLimit });
  // The same tenant and key row in B's database: same ids, same hash.
  const source = a.app.get(DataSource);
  const [tenantRow] = await source.query('SELECT id, name, slug FROM tenants WHERE id = $1', [tenant.id]);
  const [keyRow] = await source.query(
    'SELECT id, name, key_hash, hint, scopes, rate_limit FROM api_keys WHERE id = $1 AND tenant_id = $2',
    [key.id, tenant.id],
  );
  const target = b.app.get(DataSource);
  await target.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3)', [
    tenantRow.id,
    tenantRow.name,
    tenantRow.slug,
  ]);
  await target.query(
    'INSERT INTO api_keys (id, tenant_id, name, key_hash, hint, scopes, rate_limit) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [keyRow.id, tenant.id, keyRow.name, keyRow.key_hash, keyRow.hint, keyRow.scopes, JSON.stringify(keyRow.rate_limit)],
  );
  return { a, b, key };
}

describe('rate limits shared through Redis', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
  });

  it('two instances enforce one limit: 10 per minute means 10 successes over both', async () => {
    const { a, b, key } = await twoInstances('redis://127.0.0.1:6379', `kwtest-${randomBytes(6).toString('hex')}`, {
      limit: 10,
      windowSeconds: 60,
    });
    apps.push(a, b);
    const outcomes: string[] = [];
    for (let i = 0; i < 12; i++)
      outcomes.push(outcome(await (i % 2 ? b : a).http.get('/config').set(withKey(key.apiKey))));
    expect(count(outcomes)).toEqual({ '200': 10, '429 RATE_LIMITED': 2 });
    const lastOnB = await b.http.get('/config').set(withKey(key.apiKey));
    expect(outcome(lastOnB)).toBe('429 RATE_LIMITED');
    expect(lastOnB.headers['ratelimit-remaining']).toBe('0');
  });

  describe('when Redis goes away', () => {
    let redis: ChildProcess | undefined;
    afterAll(() => {
      redis?.kill('SIGKILL');
    });

    it('falls back to per-instance limits: still limited, never a 500, logged once', async () => {
      const port = await freePort();
      redis = spawn(
        '/usr/bin/redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve, reject) => {
        let said = '';
        redis!.stdout!.on(
          'data',
          (chunk: Buffer) => (said += chunk) && /Ready to accept connections/.test(said) && resolve(),
        );
        redis!.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${said}`)));
      });
      const { a, b, key } = await twoInstances(
        `redis://127.0.0.1:${port}`,
        `kwtest-${randomBytes(6).toString('hex')}`,
        { limit: 4, windowSeconds: 60 },
      );
      apps.push(a, b);
      const use = async (app: TestApp) => outcome(await app.http.get('/config').set(withKey(key.apiKey)));
      // Shared while Redis is up: 2 on A and 2 on B use the one limit of 4.
      expect([await use(a), await use(b), await use(a), await use(b), await use(a)]).toEqual([
        '200',
        '200',
        '200',
        '200',
        '429 RATE_LIMITED',
      ]);

      // Both instances have failed to reach Redis again (what makes them fall back) before the next request.
      const lost = [a, b].map((app) =>
        once((app.app.get(RateLimitService) as unknown as { redis: EventEmitter }).redis, 'error'),
      );
      redis.kill('SIGKILL');
      await Promise.all(lost);
      // Each instance now counts alone, in memory: 4 more on each, then refused; nothing unlimited, no 500.
      const onA: string[] = [];
      const onB: string[] = [];
      for (let i = 0; i < 6; i++) onA.push(await use(a));
      for (let i = 0; i < 6; i++) onB.push(await use(b));
      expect(count(onA)).toEqual({ '200': 4, '429 RATE_LIMITED': 2 });
      expect(count(onB)).toEqual({ '200': 4, '429 RATE_LIMITED': 2 });
      // Once per instance, not once per request (Nest's Logger may write both to the last app's log).
      expect([...a.logs, ...b.logs].filter((line) => line.includes('Redis unreachable'))).toHaveLength(2);
    });
  });
});
