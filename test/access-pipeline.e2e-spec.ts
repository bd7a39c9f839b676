import { JwtService } from '@nestjs/jwt';
import { Response } from 'supertest';
import { JWT_AUDIENCE, JWT_ISSUER } from '../src/auth/access-token';
import { KeyUsageService } from '../src/api-keys/key-usage.service';
import { KeyDenialsService } from '../src/audit/key-denials.service';
import { SCOPES } from '../src/common/auth/scopes';
import { adminHeaders, createTenant, tenantWithRoles } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

const METRICS_TOKEN = 'metrics-token-0123456789abcdefghijklmnop';
const HOUR = 3_600_000;
const withKey = (key: string) => ({ 'x-api-key': key });
const outcome = (res: Response): string => (res.status < 300 ? String(res.status) : `${res.status} ${res.body?.code}`);

/**
 * The pipeline's order: identify, then authorize, then meter. A key refused by the route's rule
 * or by its own allowlist spends no rate-limit unit and no quota, and the refusal is counted once,
 * with its code, in usage, metrics and the denied-use audit.
 */
describe('identify, then authorize, then meter', () => {
  let t: TestApp;
  let manager: string;
  let tenantId: string;

  beforeAll(async () => {
    t = await createTestApp({ env: { METRICS_TOKEN } });
    tenantId = (await createTenant(t)).id;
    manager = (
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId, scopes: [...SCOPES] })
        .expect(201)
    ).body.apiKey;
  });
  afterAll(() => t.close());

  async function key(body: Record<string, unknown>): Promise<{ id: string; apiKey: string }> {
    return (
      await t.http
        .post('/v1/api-keys')
        .set(withKey(manager))
        .send({ name: 'k', ...body })
        .expect(201)
    ).body;
  }

  async function verifications(): Promise<Record<string, number>> {
    const text = (await t.http.get('/metrics').set('authorization', `Bearer ${METRICS_TOKEN}`).expect(200)).text;
    const counts: Record<string, number> = {};
    for (const [, result, n] of text.matchAll(/^keyward_key_verifications_total\{result="([A-Z_a-z]+)"\} (\d+)$/gm))
      counts[result] = Number(n);
    return counts;
  }

  /** The key's usage totals, after writing what has accumulated. */
  async function usage(id: string): Promise<unknown> {
    await t.app.get(KeyUsageService).flush();
    const range = { from: new Date(Date.now() - HOUR).toISOString(), to: new Date(Date.now() + HOUR).toISOString() };
    return (await t.http.get(`/v1/api-keys/${id}/usage`).query(range).set(withKey(manager)).expect(200)).body.totals;
  }

  async function deniedAudit(id: string): Promise<{ reason: string; count: number }[]> {
    await t.app.get(KeyDenialsService).flush(true);
    const res = await t.http
      .get('/v1/audit-events')
      .query({ action: 'key.denied', targetId: id })
      .set(withKey(manager))
      .expect(200);
    return res.body.items.map((e: { reason: string; count: number }) => ({ reason: e.reason, count: e.count }));
  }

  async function quotaLeft(id: string): Promise<number> {
    return (await t.http.get(`/v1/api-keys/${id}`).set(withKey(manager)).expect(200)).body.quota.remaining;
  }

  it('a key without the route’s scope gets 403 INSUFFICIENT_SCOPE and spends no rate limit and no quota', async () => {
    const narrow = await key({
      scopes: ['keys:read'],
      rateLimit: { limit: 2, windowSeconds: 60 },
      quota: { remaining: 10 },
    });
    const before = await verifications();

    const refused = [];
    for (let i = 0; i < 3; i++) refused.push(await t.http.get('/config').set(withKey(narrow.apiKey)));
    expect(refused.map(outcome)).toEqual(Array(3).fill('403 INSUFFICIENT_SCOPE'));
    // Nothing was spent: no RateLimit headers on the refusals, the quota is whole,
    expect(refused.every((res) => res.headers['ratelimit-remaining'] === undefined)).toBe(true);
    expect(await quotaLeft(narrow.id)).toBe(10);
    // and the whole limit of 2 is still there for a route the key may use.
    const allowed = [];
    for (let i = 0; i < 3; i++) allowed.push(await t.http.get(`/v1/api-keys/${narrow.id}`).set(withKey(narrow.apiKey)));
    expect(allowed.map(outcome)).toEqual(['200', '200', '429 RATE_LIMITED']);
    expect(allowed.map((res) => res.headers['ratelimit-remaining'])).toEqual(['1', '0', '0']);
    expect(await quotaLeft(narrow.id)).toBe(8);

    // Counted once each, with their codes, and the 429 is a denial, not a valid use.
    expect(await usage(narrow.id)).toEqual({ success: 2, denied: { INSUFFICIENT_SCOPE: 3, RATE_LIMITED: 1 } });
    const after = await verifications();
    const delta = (code: string) => (after[code] ?? 0) - (before[code] ?? 0);
    expect(delta('INSUFFICIENT_SCOPE')).toBe(3);
    expect(delta('RATE_LIMITED')).toBe(1);
    // Besides the key's 2, the only valid uses are the manager's 3 reads above (quota twice, usage).
    expect(delta('valid')).toBe(2 + 3);
    expect(await deniedAudit(narrow.id)).toEqual(
      expect.arrayContaining([
        { reason: 'INSUFFICIENT_SCOPE', count: 3 },
        { reason: 'RATE_LIMITED', count: 1 },
      ]),
    );
  });

  it('a key refused by its IP allowlist gets 403 KEY_IP_NOT_ALLOWED and spends no rate limit and no quota', async () => {
    const confined = await key({
      scopes: ['config:read'],
      ipAllowlist: ['10.0.0.0/8'],
      rateLimit: { limit: 2, windowSeconds: 60 },
      quota: { remaining: 10 },
    });
    const before = await verifications();

    const refused = [];
    for (let i = 0; i < 3; i++) refused.push(await t.http.get('/config').set(withKey(confined.apiKey)));
    expect(refused.map(outcome)).toEqual(Array(3).fill('403 KEY_IP_NOT_ALLOWED'));
    expect(refused.every((res) => res.headers['ratelimit-remaining'] === undefined)).toBe(true);
    expect(await quotaLeft(confined.id)).toBe(10);

    // Let this address in: the whole limit is still there.
    await t.http
      .patch(`/v1/api-keys/${confined.id}`)
      .set(withKey(manager))
      .send({ ipAllowlist: ['127.0.0.0/8', '::1/128', '::ffff:127.0.0.0/104'] })
      .expect(200);
    const allowed = [];
    for (let i = 0; i < 3; i++) allowed.push(await t.http.get('/config').set(withKey(confined.apiKey)));
    expect(allowed.map(outcome)).toEqual(['200', '200', '429 RATE_LIMITED']);
    expect(await quotaLeft(confined.id)).toBe(8);

    expect(await usage(confined.id)).toEqual({ success: 2, denied: { KEY_IP_NOT_ALLOWED: 3, RATE_LIMITED: 1 } });
    const after = await verifications();
    expect((after.KEY_IP_NOT_ALLOWED ?? 0) - (before.KEY_IP_NOT_ALLOWED ?? 0)).toBe(3);
    expect(await deniedAudit(confined.id)).toEqual(
      expect.arrayContaining([{ reason: 'KEY_IP_NOT_ALLOWED', count: 3 }]),
    );
  });

  it('a person without the route’s role is refused before anything is spent, and a refused user is not counted as a key', async () => {
    const before = await verifications();
    const res = await t.http.get('/config').set('authorization', 'Bearer not-a-token');
    // /config takes keys only: a bearer token is no credential there.
    expect(outcome(res)).toBe('401 KEY_MISSING');
    expect(await verifications()).toEqual(before);
  });

  describe('access JWTs', () => {
    it('are refused without an expiry, with another algorithm, issuer or audience, and accepted as issued', async () => {
      const { owner } = await tenantWithRoles(t);
      await t.http.get('/auth/me').set(owner.auth).expect(200);
      const jwt = t.app.get(JwtService);
      const claims = jwt.decode(owner.accessToken) as Record<string, unknown>;
      const { exp: _exp, iat: _iat, ...rest } = claims;
      const forged = {
        withoutExpiry: jwt.sign(rest),
        otherAlgorithm: jwt.sign(claims, { algorithm: 'HS512' }),
        otherIssuer: jwt.sign({ ...rest, iss: 'someone-else' }, { expiresIn: 60 }),
        otherAudience: jwt.sign({ ...rest, aud: 'another-api' }, { expiresIn: 60 }),
        expired: jwt.sign({ ...rest, exp: Math.floor(Date.now() / 1000) - 10 }),
      };
      const answers: Record<string, string> = {};
      for (const [name, token] of Object.entries(forged))
        answers[name] = outcome(await t.http.get('/auth/me').set('authorization', `Bearer ${token}`));
      expect(answers).toEqual({
        withoutExpiry: '401 TOKEN_INVALID',
        otherAlgorithm: '401 TOKEN_INVALID',
        otherIssuer: '401 TOKEN_INVALID',
        otherAudience: '401 TOKEN_INVALID',
        expired: '401 TOKEN_EXPIRED',
      });
      // The same claims, signed as the service signs them, pass: the refusals are about the token alone.
      expect(rest).toMatchObject({ iss: JWT_ISSUER, aud: JWT_AUDIENCE });
      const reissued = jwt.sign(rest, { expiresIn: 60 });
      expect(outcome(await t.http.get('/auth/me').set('authorization', `Bearer ${reissued}`))).toBe('200');
    });
  });
});
