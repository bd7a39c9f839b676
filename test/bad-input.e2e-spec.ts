import { SCOPES } from '../src/common/auth/scopes';
import { adminHeaders, createTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

/** Input that once reached a stack overflow or a PostgreSQL data exception: each is a clear 400. */
describe('bad input is a 400, never a 500', () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await createTestApp();
    const tenant = await createTenant(t);
    key = (
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId: tenant.id, name: 'manager', scopes: [...SCOPES] })
        .expect(201)
    ).body.apiKey;
  });
  afterAll(() => t.close());

  const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

  it('JSON nested thousands deep is refused before validation, on every JSON route', async () => {
    const routes: [string, Record<string, string>][] = [
      ['/v1/api-keys', { 'x-api-key': key }],
      ['/auth/login', {}],
      ['/v1/keys/report-leak', {}],
      ['/admin/tenants', adminHeaders],
    ];
    for (const [path, headers] of routes) {
      for (const body of [nested(5000), `{"name":${'['.repeat(5000)}${']'.repeat(5000)}}`]) {
        const res = await t.http
          .post(path)
          .set({ ...headers, 'content-type': 'application/json' })
          .send(body);
        expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 400, code: 'JSON_TOO_DEEP' });
      }
    }
    // Brackets inside strings do not count, and modest nesting reaches validation as before.
    const quoted = await t.http
      .post('/auth/login')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ email: '{'.repeat(100), password: 'x' }));
    expect(quoted.body.code).toBe('VALIDATION_FAILED');
    const shallow = await t.http.post('/auth/login').set('content-type', 'application/json').send(nested(20));
    expect(shallow.body.code).toBe('VALIDATION_FAILED');
  });

  it('a lone surrogate anywhere in a JSON body is 400 INVALID_CHARACTERS (key name, sign-in, config value)', async () => {
    for (const text of ['\ud800', 'a\udfffb']) {
      const answers = [
        await t.http.post('/v1/api-keys').set({ 'x-api-key': key }).send({ name: text }),
        await t.http.post('/auth/login').send({ email: `${text}@example.com`, password: 'x' }),
        await t.http
          .put('/v1/config/entries/lone.surrogate')
          .set({ 'x-api-key': key })
          .send({ value: { [text]: 1 } }),
      ];
      for (const res of answers) expect([res.status, res.body.code]).toEqual([400, 'INVALID_CHARACTERS']);
    }
  });

  it('page numbers are bounded on every paginated list', async () => {
    for (const [path, headers] of [
      ['/v1/api-keys', { 'x-api-key': key }],
      ['/admin/tenants', adminHeaders],
    ] as const) {
      for (const page of ['99999999999999999999', '1e300', '10001', '-1', 'abc']) {
        const res = await t.http.get(`${path}?page=${page}`).set(headers);
        expect({ path, page, status: res.status, code: res.body.code }).toEqual({
          path,
          page,
          status: 400,
          code: 'VALIDATION_FAILED',
        });
      }
      await t.http.get(`${path}?page=10000`).set(headers).expect(200);
    }
  });

  it('other numbers and dates out of PostgreSQL range are 400s', async () => {
    const huge = await t.http.get('/v1/audit-events?limit=99999999999999999999').set({ 'x-api-key': key });
    expect(huge.status).toBe(400);
    for (const from of ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z']) {
      const res = await t.http.get(`/v1/usage?from=${from}`).set({ 'x-api-key': key });
      expect(res.status).toBeLessThan(500);
    }
  });

  it('form bodies with nested or repeated keys are refused, not crashed on', async () => {
    const bomb = Array.from({ length: 200 }, (_, i) => `a${'[0]'.repeat(50)}=${i}`).join('&');
    for (const path of ['/login', '/forgot', '/dashboard/keys']) {
      const res = await t.http
        .post(path)
        .set('content-type', 'application/x-www-form-urlencoded')
        .send(`${bomb}&email=x&email=y`);
      expect(res.status).toBeGreaterThanOrEqual(300);
      expect(res.status).toBeLessThan(500);
    }
  });
});
