import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Response } from 'supertest';
import { ApiKeyVerifier } from '../src/api-keys/api-key-verifier.service';
import { KeyUsageService } from '../src/api-keys/key-usage.service';
import { SCOPES } from '../src/common/auth/scopes';
import { adminHeaders, createTenant, tenantWithRoles } from './helpers/identity';
import { watchMail } from './helpers/mail';
import { createTestApp, TestApp } from './helpers/test-app';

type Body = Record<string, unknown>;
const HOUR = 3_600_000;
const withKey = (key: string) => ({ 'x-api-key': key });
const outcome = (res: Response): string => (res.status < 300 ? String(res.status) : `${res.status} ${res.body?.code}`);

async function adminKey(t: TestApp, tenantId: string, body: Body = {}): Promise<{ id: string; apiKey: string }> {
  const res = await t.http
    .post('/admin/api-keys')
    .set(adminHeaders)
    .send({ tenantId, ...body });
  expect(outcome(res)).toBe('201');
  return res.body;
}

describe('usage', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('counts successes and denials by code per hour, for a key and for its tenant, visible only where the key is', async () => {
    const main = await tenantWithRoles(t);
    const tenantId = main.tenant.id;
    const manager = await adminKey(t, tenantId, { scopes: [...SCOPES] });
    const key = await adminKey(t, tenantId, { rateLimit: { limit: 3, windowSeconds: 60 } });
    // Whatever the other tests left in memory is written first, so only this test's counts follow.
    const usage = t.app.get(KeyUsageService);
    await usage.flush();

    const uses: string[] = [];
    for (let i = 0; i < 4; i++) uses.push(outcome(await t.http.get('/config').set(withKey(key.apiKey))));
    await t.http.patch(`/v1/api-keys/${key.id}`).set(withKey(manager.apiKey)).send({ disabled: true }).expect(200);
    uses.push(outcome(await t.http.get('/config').set(withKey(key.apiKey))));
    expect(uses).toEqual(['200', '200', '200', '429 RATE_LIMITED', '403 KEY_DISABLED']);
    await usage.flush();

    const from = new Date(Date.now() - 2 * HOUR).toISOString();
    const to = new Date(Date.now() + HOUR).toISOString();
    const res = await t.http
      .get(`/v1/api-keys/${key.id}/usage`)
      .query({ from, to })
      .set(withKey(manager.apiKey))
      .expect(200);
    expect(res.body.totals).toEqual({ success: 3, denied: { RATE_LIMITED: 1, KEY_DISABLED: 1 } });
    expect(res.body.granularity).toBe('hour');
    // Every hour of the range is there, empty ones included; the counts sit in the current hour.
    expect(res.body.series.length).toBeGreaterThanOrEqual(3);
    const current = new Date(Date.now() - (Date.now() % HOUR)).toISOString();
    expect(res.body.series.find((p: { t: string }) => p.t === current)).toEqual({
      t: current,
      success: 3,
      denied: { RATE_LIMITED: 1, KEY_DISABLED: 1 },
    });
    expect(
      res.body.series
        .filter((p: { t: string }) => p.t !== current)
        .every((p: { success: number; denied: object }) => p.success === 0 && Object.keys(p.denied).length === 0),
    ).toBe(true);

    const daily = await t.http
      .get(`/v1/api-keys/${key.id}/usage`)
      .query({ from, to, granularity: 'day' })
      .set(main.owner.auth)
      .expect(200);
    expect(daily.body.totals).toEqual(res.body.totals);
    expect(daily.body.series.every((p: { t: string }) => p.t.endsWith('T00:00:00.000Z'))).toBe(true);

    // The tenant: this key plus the manager's one PATCH (later uses are not written yet).
    const tenant = await t.http.get('/v1/usage').query({ from, to }).set(main.admin.auth).expect(200);
    expect(tenant.body.totals).toEqual({ success: 4, denied: { RATE_LIMITED: 1, KEY_DISABLED: 1 } });
    await t.http.get('/v1/usage').query({ from, to }).set(withKey(manager.apiKey)).expect(200);

    // Mirrors GET /v1/api-keys/:id: another tenant, or a member, sees no such key; members get no tenant view.
    const other = await createTenant(t);
    const otherManager = await adminKey(t, other.id, { scopes: [...SCOPES] });
    expect(outcome(await t.http.get(`/v1/api-keys/${key.id}/usage`).set(withKey(otherManager.apiKey)))).toBe(
      '404 NOT_FOUND',
    );
    const otherTotals = await t.http.get('/v1/usage').query({ from, to }).set(withKey(otherManager.apiKey)).expect(200);
    expect(otherTotals.body.totals).toEqual({ success: 0, denied: {} });
    expect(outcome(await t.http.get(`/v1/api-keys/${key.id}/usage`).set(main.member.auth))).toBe('404 NOT_FOUND');
    expect(outcome(await t.http.get('/v1/usage').set(main.member.auth))).toBe('403 FORBIDDEN');
    const narrow = await adminKey(t, tenantId, { scopes: ['config:read'] });
    expect(outcome(await t.http.get('/v1/usage').set(withKey(narrow.apiKey)))).toBe('403 INSUFFICIENT_SCOPE');
  });

  it('refuses bad ranges with 400', async () => {
    const tenant = await createTenant(t);
    const manager = await adminKey(t, tenant.id, { scopes: [...SCOPES] });
    const get = async (query: Record<string, string>) =>
      outcome(await t.http.get('/v1/usage').query(query).set(withKey(manager.apiKey)));
    expect(await get({ from: '2030-01-02T00:00:00Z', to: '2030-01-01T00:00:00Z' })).toBe('400 VALIDATION_FAILED');
    expect(await get({ from: '2030-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' })).toBe('400 VALIDATION_FAILED');
    expect(await get({ from: '2028-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' })).toBe('400 VALIDATION_FAILED');
    expect(await get({ from: 'yesterday' })).toBe('400 VALIDATION_FAILED');
    expect(await get({ granularity: 'week' })).toBe('400 VALIDATION_FAILED');
    expect(await get({ from: '2030-01-01T00:00:00Z', to: '2030-01-02T00:00:00Z', granularity: 'day' })).toBe('200');
    expect(outcome(await t.http.get('/v1/api-keys/not-a-uuid/usage').set(withKey(manager.apiKey)))).toBe(
      '400 BAD_REQUEST',
    );
  });
});

describe('leaked-key report', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  /** Recipients of the mail written to the outbox so far. */
  function recipients(): string[] {
    const outbox = join(t.config.dataDir, 'outbox');
    if (!existsSync(outbox)) return [];
    // One .eml per message (a plain-text .txt copy stands beside each).
    return readdirSync(outbox)
      .filter((file) => file.endsWith('.eml'))
      .map((file) => /^To: (.*)$/m.exec(readFileSync(join(outbox, file), 'utf8'))?.[1].trim() ?? '');
  }

  it('revokes a valid key at once and mails its owner and the tenant admins; answers alike for any key; 5 reports a minute', async () => {
    const mailer = watchMail(t.app);
    const main = await tenantWithRoles(t);
    const key = await adminKey(t, main.tenant.id, { userId: main.member.id, name: 'laptop' });
    await t.http.get('/auth/me').set(withKey(key.apiKey)).expect(200);

    const report = (body: Body) => t.http.post('/v1/keys/report-leak').send(body);
    const valid = await report({ key: key.apiKey, source: 'https://paste.example/abc' });
    expect(valid.status).toBe(202);
    expect(valid.body).toEqual({ status: 'received' });
    expect(outcome(await t.http.get('/auth/me').set(withKey(key.apiKey)))).toBe('401 KEY_REVOKED');
    const audited = await t.http
      .get('/v1/audit-events')
      .query({ action: 'key.revoked', targetId: key.id })
      .set('authorization', `Bearer ${main.owner.accessToken}`)
      .expect(200);
    expect(audited.body.items).toEqual([
      expect.objectContaining({
        actor: { type: 'system', id: null },
        target: { type: 'api_key', id: key.id },
        reason: 'LEAK_REPORTED',
        metadata: { source: 'https://paste.example/abc' },
      }),
    ]);

    await mailer.delivered();
    expect(recipients().sort()).toEqual([main.owner.email, main.admin.email, main.member.email].sort());
    const mail = readFileSync(
      join(
        t.config.dataDir,
        'outbox',
        readdirSync(join(t.config.dataDir, 'outbox')).find((file) => file.endsWith('.eml'))!,
      ),
      'utf8',
    );
    expect(mail).toContain('laptop');
    expect(mail).not.toContain(key.apiKey);

    const unknown = t.app.get(ApiKeyVerifier).format.generate();
    for (const body of [{ key: unknown }, { key: 'not-a-key' }, { key: key.apiKey }]) {
      const res = await report(body);
      expect(res.status).toBe(202);
      expect(res.body).toEqual(valid.body);
    }
    expect(recipients()).toHaveLength(3);
    expect(outcome(await report({}))).toBe('400 VALIDATION_FAILED');
    // Four reports so far (the invalid body never reached the limit): one more, then 429.
    expect(outcome(await report({ key: unknown }))).toBe('202');
    const limited = await report({ key: unknown });
    expect(outcome(limited)).toBe('429 RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});
