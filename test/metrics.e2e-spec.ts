import { adminHeaders, createTenant, createUser } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';
import { ProbeModule } from './probe.module';

const METRICS_TOKEN = 'metrics-token-0123456789abcdefghijklmnop';
const scrapeHeaders = { authorization: `Bearer ${METRICS_TOKEN}` };

/** `name{labels} value` lines of a Prometheus text exposition, as a map. */
function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe('GET /metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { METRICS_TOKEN } });
  });
  afterAll(() => t.close());

  it('refuses a scrape without the token or with a wrong one', async () => {
    expect((await t.http.get('/metrics').expect(401)).body.code).toBe('METRICS_TOKEN_INVALID');
    expect((await t.http.get('/metrics').set('authorization', `Bearer ${METRICS_TOKEN}x`).expect(401)).body.code).toBe(
      'METRICS_TOKEN_INVALID',
    );
    expect((await t.http.get('/metrics').set('authorization', METRICS_TOKEN).expect(401)).body.code).toBe(
      'METRICS_TOKEN_INVALID',
    );
    // The admin token is not a metrics token.
    await t.http.get('/metrics').set('authorization', `Bearer ${adminHeaders['x-admin-token']}`).expect(401);
  });

  it('counts requests, key verifications, cache hits, rate limits and sign-ins after traffic', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.id, 'member');
    const makeKey = async (body: object = {}) =>
      (
        await t.http
          .post('/admin/api-keys')
          .set(adminHeaders)
          .send({ tenantId: tenant.id, scopes: ['config:read', 'keys:write'], ...body })
          .expect(201)
      ).body as { apiKey: string; id: string };
    const valid = await makeKey();
    const revoked = await makeKey();
    const limited = await makeKey({ rateLimit: { limit: 2, windowSeconds: 60 } });

    for (let i = 0; i < 3; i++) await t.http.get('/health').expect(200);
    for (let i = 0; i < 3; i++) await t.http.get('/config').set('x-api-key', valid.apiKey).expect(200);
    await t.http.delete(`/v1/api-keys/${revoked.id}`).set('x-api-key', valid.apiKey).expect(204);
    await t.http.get('/config').set('x-api-key', revoked.apiKey).expect(401);
    await t.http.get('/config').set('x-api-key', 'not-a-key').expect(401);
    for (let i = 0; i < 3; i++) await t.http.get('/config').set('x-api-key', limited.apiKey);
    await t.http.post('/auth/login').send({ email: user.email, password: 'wrong password entirely' }).expect(401);
    await t.http.post('/auth/login').send({ email: user.email, password: user.password }).expect(200);
    await t.http.get('/v1/api-keys/not-a-route-at-all/nope/x').set('x-api-key', valid.apiKey);

    const res = await t.http.get('/metrics').set(scrapeHeaders).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const samples = parseSamples(res.text);
    const value = (series: string) => samples.get(series);

    // By route pattern and status, never by raw URL.
    expect(value('keyward_http_requests_total{method="GET",route="/health",status="200"}')).toBe(3);
    expect(value('keyward_http_requests_total{method="GET",route="/config",status="200"}')).toBe(3 + 2);
    expect(value('keyward_http_requests_total{method="GET",route="/config",status="429"}')).toBe(1);
    expect(value('keyward_http_requests_total{method="DELETE",route="/v1/api-keys/:id",status="204"}')).toBe(1);
    expect(value('keyward_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
    expect(res.text).not.toContain(revoked.id);
    expect(value('keyward_http_request_duration_seconds_count{method="GET",route="/health",status="200"}')).toBe(3);
    const healthSeconds = value(
      'keyward_http_request_duration_seconds_sum{method="GET",route="/health",status="200"}',
    )!;
    expect(healthSeconds).toBeGreaterThan(0);
    expect(healthSeconds).toBeLessThan(3);
    expect(
      value('keyward_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/health",status="200"}'),
    ).toBe(3);

    // Key verifications by result: 3 + 1 (the DELETE) + 2 `valid`; the third of the limited key's
    // requests was turned away by its rate limit, which counts as a denial, not a valid use. The
    // unmatched route never reached the guard.
    expect(value('keyward_key_verifications_total{result="valid"}')).toBe(3 + 1 + 2);
    expect(value('keyward_key_verifications_total{result="RATE_LIMITED"}')).toBe(1);
    expect(value('keyward_key_verifications_total{result="KEY_REVOKED"}')).toBe(1);
    expect(value('keyward_key_verifications_total{result="KEY_MALFORMED"}')).toBe(1);
    expect(value('keyward_rate_limit_rejections_total{limit="key"}')).toBe(1);
    // Each of the three keys was read from the database once, then served from the cache; a key
    // that fails its shape check never reaches the cache.
    expect(value('keyward_key_cache_lookups_total{outcome="miss"}')).toBe(3);
    expect(value('keyward_key_cache_lookups_total{outcome="hit"}')).toBe(3 + 1 + 1 + 3 - 3);

    expect(value('keyward_logins_total{result="failure"}')).toBe(1);
    expect(value('keyward_logins_total{result="success"}')).toBe(1);

    const inUse = value('keyward_db_pool_connections{state="in_use"}')!;
    const idle = value('keyward_db_pool_connections{state="idle"}')!;
    expect(inUse).toBeGreaterThanOrEqual(0);
    expect(inUse + idle).toBeGreaterThanOrEqual(1);
    expect(value('keyward_db_pool_waiting')).toBe(0);

    // prom-client's default metrics, on this registry.
    const lag = value('nodejs_eventloop_lag_seconds');
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(5);
    expect(value('process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('GET /metrics without METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('is disabled: 403 METRICS_DISABLED whatever is sent', async () => {
    expect((await t.http.get('/metrics').expect(403)).body.code).toBe('METRICS_DISABLED');
    expect((await t.http.get('/metrics').set(scrapeHeaders).expect(403)).body.code).toBe('METRICS_DISABLED');
  });
});

describe('request logs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ imports: [ProbeModule] });
  });
  afterAll(() => t.close());

  const linesOf = (requestId: string) =>
    t.logs.filter((line) => line.includes(requestId)).map((line) => JSON.parse(line) as Record<string, unknown>);

  it('carry the key id and tenant id, never the key, on every line of a key-authenticated request', async () => {
    const tenant = await createTenant(t);
    const key = (
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId: tenant.id, scopes: ['config:read'] })
        .expect(201)
    ).body;

    const ok = await t.http.get('/config').set('x-api-key', key.apiKey).expect(200);
    const failed = await t.http.get('/probe/key-crash').set('x-api-key', key.apiKey).expect(500);
    const okLines = linesOf(ok.headers['x-request-id']);
    const failedLines = linesOf(failed.headers['x-request-id']);
    expect(okLines).toHaveLength(1);
    // The unexpected error is logged by the exception filter, then the request line.
    expect(failedLines.map((line) => line.msg)).toEqual(['unhandled error', 'request']);
    for (const line of [...okLines, ...failedLines])
      expect(line).toMatchObject({ tenantId: tenant.id, apiKeyId: key.id });
    expect(t.logs.join('\n')).not.toContain(key.apiKey);
  });
});
