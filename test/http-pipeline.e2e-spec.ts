import { Writable } from 'node:stream';
import { createLogger } from '../src/common/logging/logger';
import { ProbeController, ProbeModule } from './probe.module';
import { createTestApp, TEST_ADMIN_TOKEN, TestApp } from './helpers/test-app';
import { adminHeaders, createTenant } from './helpers/identity';

describe('request pipeline', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ imports: [ProbeModule] });
  });
  afterAll(() => t.close());

  it('GET /health answers 200 {status: ok}', async () => {
    const res = await t.http.get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /ready pings the database', async () => {
    const res = await t.http.get('/ready').expect(200);
    expect(res.body).toEqual({ status: 'ready' });
  });

  it('unknown routes answer 404 in the error shape', async () => {
    const res = await t.http.get('/no/such/route').set('x-request-id', 'req-404').expect(404);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: expect.any(String),
      code: 'NOT_FOUND',
      requestId: 'req-404',
    });
  });

  it('invalid bodies answer 400 with field details', async () => {
    const res = await t.http.post('/probe/echo').send({ email: 'not-an-email', count: 99, password: 'x' }).expect(400);
    expect(res.body).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      code: 'VALIDATION_FAILED',
      requestId: expect.any(String),
    });
    const fields = res.body.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['count', 'email']);
  });

  it('unknown properties are refused, not silently dropped', async () => {
    const res = await t.http
      .post('/probe/echo')
      .send({ email: 'a@b.co', count: 1, password: 'x', tenantId: 'evil' })
      .expect(400);
    expect(res.body.details).toEqual([{ field: 'tenantId', messages: [expect.stringContaining('should not exist')] }]);
  });

  it('valid bodies pass and are transformed to the DTO', async () => {
    const res = await t.http.post('/probe/echo').send({ email: 'a@b.co', count: 3, password: 'x' }).expect(201);
    expect(res.body).toEqual({ email: 'a@b.co', count: 3, countType: 'number' });
  });

  it('malformed JSON is a 400, not a 500', async () => {
    const res = await t.http.post('/probe/echo').set('content-type', 'application/json').send('{"email":').expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, requestId: expect.any(String) });
  });

  it('bodies over the limit answer 413', async () => {
    const big = JSON.stringify({ email: 'a@b.co', count: 1, password: 'x'.repeat(t.config.bodyLimit) });
    const res = await t.http.post('/probe/echo').set('content-type', 'application/json').send(big).expect(413);
    expect(res.body).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('unexpected errors answer a generic 500 and are logged once with the request id', async () => {
    const res = await t.http.get('/probe/crash').set('x-request-id', 'crash-1').expect(500);
    expect(res.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
      code: 'INTERNAL_ERROR',
      requestId: 'crash-1',
    });
    expect(JSON.stringify(res.body)).not.toContain('secret internal detail');
    const errorLines = t.logs.filter((line) => line.includes('"unhandled error"') && line.includes('crash-1'));
    expect(errorLines).toHaveLength(1);
  });

  it('a 503 the code chose (busy) is a warning without a stack, not an unhandled error', async () => {
    const res = await t.http.get('/probe/busy').set('x-request-id', 'busy-1').expect(503);
    expect(res.body).toMatchObject({ code: 'PROBE_BUSY', requestId: 'busy-1' });
    const lines = t.logs.filter((line) => line.includes('busy-1') && line.includes('"Exceptions"'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"request refused"');
    expect(lines[0]).not.toContain('stack');
  });

  it('a failed query is logged without its bound values', async () => {
    await t.http.get('/probe/query-error').set('x-request-id', 'query-error-1').expect(500);
    const line = t.logs.find((l) => l.includes('query-error-1') && l.includes('"unhandled error"'));
    expect(line).toContain('probe failure');
    expect(line).toContain('[redacted]');
    expect(t.logs.join('\n')).not.toContain('probe-secret-parameter-value');
  });

  it('application errors keep their code', async () => {
    const res = await t.http.get('/probe/conflict').expect(409);
    expect(res.body).toMatchObject({
      statusCode: 409,
      error: 'Conflict',
      code: 'PROBE_CONFLICT',
      message: 'probe conflict',
    });
  });

  describe('request id', () => {
    it('echoes a sane x-request-id', async () => {
      const res = await t.http.get('/health').set('x-request-id', 'abc-123_X.y:z').expect(200);
      expect(res.headers['x-request-id']).toBe('abc-123_X.y:z');
    });

    it('replaces an unsafe one with a generated id', async () => {
      const res = await t.http.get('/health').set('x-request-id', 'bad id\twith spaces<script>').expect(200);
      expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9]{8}-[0-9a-z]+$/);
    });

    it('generates one when none is sent', async () => {
      const a = await t.http.get('/health');
      const b = await t.http.get('/health');
      expect(a.headers['x-request-id']).toMatch(/^[A-Za-z0-9]{8}-[0-9a-z]+$/);
      expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
    });
  });

  describe('closed by default', () => {
    it('refuses a route that declares no access rule', async () => {
      const res = await t.http.get('/probe/no-rule').expect(403);
      expect(res.body).toMatchObject({ code: 'ACCESS_RULE_MISSING' });
      expect(res.body).not.toHaveProperty('reached');
    });
  });

  describe('ApiKeyGuard applied alone with @UseGuards', () => {
    it('admits a valid key with its principal and refuses a missing, malformed or suspended one', async () => {
      const tenant = await createTenant(t);
      const key = (
        await t.http
          .post('/admin/api-keys')
          .set(adminHeaders)
          .send({ tenantId: tenant.id, scopes: ['config:read'] })
          .expect(201)
      ).body;
      const res = await t.http.get('/probe/key-guard').set('x-api-key', key.apiKey).expect(200);
      // The permission Set of the principal serializes as {}.
      expect(res.body).toEqual({
        kind: 'apiKey',
        tenantId: tenant.id,
        apiKeyId: key.id,
        scopes: ['config:read'],
        permissions: {},
      });
      expect((await t.http.get('/probe/key-guard').expect(401)).body).toMatchObject({ code: 'KEY_MISSING' });
      expect((await t.http.get('/probe/key-guard').set('x-api-key', 'kw_nope').expect(401)).body).toMatchObject({
        code: 'KEY_MALFORMED',
      });
      await t.http.patch(`/admin/tenants/${tenant.id}`).set(adminHeaders).send({ status: 'suspended' }).expect(200);
      expect((await t.http.get('/probe/key-guard').set('x-api-key', key.apiKey).expect(403)).body).toMatchObject({
        code: 'TENANT_SUSPENDED',
      });
    });
  });

  describe('AdminTokenGuard', () => {
    it('accepts the configured token', async () => {
      const res = await t.http.get('/probe/admin').set('x-admin-token', TEST_ADMIN_TOKEN).expect(200);
      expect(res.body).toEqual({ admin: true });
    });

    it.each([
      ['a wrong token', TEST_ADMIN_TOKEN.slice(0, -1) + 'X'],
      ['a prefix of the token', TEST_ADMIN_TOKEN.slice(0, 20)],
      ['an empty token', ''],
    ])('rejects %s with 401 ADMIN_TOKEN_INVALID', async (_, token) => {
      const res = await t.http.get('/probe/admin').set('x-admin-token', token).expect(401);
      expect(res.body).toMatchObject({ code: 'ADMIN_TOKEN_INVALID' });
    });

    it('rejects a missing header', async () => {
      const res = await t.http.get('/probe/admin').expect(401);
      expect(res.body).toMatchObject({ code: 'ADMIN_TOKEN_INVALID' });
    });
  });

  it('writes one structured log line per request with route, status, duration and request id', async () => {
    await t.http.get('/health').set('x-request-id', 'log-line-1').expect(200);
    const lines = t.logs.map((line) => JSON.parse(line)).filter((line) => line.requestId === 'log-line-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'request',
      method: 'GET',
      route: '/health',
      status: 200,
      durationMs: expect.any(Number),
    });
  });

  it('logs only allowlisted headers, so no credential, cookie, Referer or CSRF token reaches the logs', async () => {
    const secrets = {
      authorization: 'Bearer secret-authorization-value-1',
      cookie: 'kw_session=secret-cookie-value-2',
      'x-api-key': 'kw_secretapikeyvalue3',
      'x-admin-token': 'secret-admin-token-value-4-xxxxxxxxxxxxxxx',
      referer: 'http://127.0.0.1/invite?token=secret-referer-token-5',
      'x-csrf-token': 'secret-csrf-token-value-6',
      'x-custom-credential': 'secret-custom-value-7',
    };
    await t.http.get('/probe/admin').set(secrets).set('x-request-id', 'redact-1').expect(401);
    await t.http.get('/probe/crash').set(secrets).set('x-request-id', 'redact-2').expect(500);
    const lines = t.logs.filter((line) => line.includes('redact-'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const parsed = JSON.parse(lines.find((line) => line.includes('"msg":"request"'))!);
    // Headers are logged by allowlist: harmless ones are there, anything else never is.
    expect(parsed.headers).toMatchObject({ 'x-request-id': 'redact-1' });
    for (const name of Object.keys(secrets)) expect(parsed.headers).not.toHaveProperty(name);
    const all = t.logs.join('\n');
    for (const value of Object.values(secrets)) expect(all).not.toContain(value.split('=').pop());
    expect(all).not.toContain(TEST_ADMIN_TOKEN);
  });

  it('the logger censors password, token and secret fields wherever they appear', () => {
    const out: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: new Writable({ write: (c, _e, done) => (out.push(String(c)), done()) }),
    });
    logger.info(
      {
        password: 'pw-1',
        body: { newPassword: 'pw-2', refreshToken: 'rt-3' },
        user: { profile: { secret: 'sc-4' } },
        apiKey: 'ak-5',
      },
      'x',
    );
    expect(out.join('')).not.toMatch(/pw-1|pw-2|rt-3|sc-4|ak-5/);
    expect(out.join('')).toContain('[redacted]');
  });

  it('serves the OpenAPI document outside production', async () => {
    const res = await t.http.get('/docs/json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/health', '/ready']));
    expect(res.body.components.securitySchemes).toHaveProperty('apiKey');
  });

  it('finishes an in-flight request before closing', async () => {
    const other = await createTestApp({ imports: [ProbeModule] });
    // Released only once closing has reached the HTTP server, with the request still in its handler.
    const adapter = other.app.getHttpAdapter();
    const closeServer = adapter.close.bind(adapter);
    let serverClosing!: () => void;
    const reachedServer = new Promise<void>((resolve) => (serverClosing = resolve));
    jest.spyOn(adapter, 'close').mockImplementation(() => {
      const closed = closeServer();
      serverClosing();
      return closed;
    });
    const arrived = ProbeController.whenSlowArrives();
    const inFlight = other.http.get('/probe/slow').then((res) => res);
    await arrived;
    const closing = other.close();
    await reachedServer;
    ProbeController.releaseSlow();
    const res = await inFlight;
    await closing;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ slow: 'done' });
  });
});

describe('admin routes without ADMIN_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ imports: [ProbeModule], env: { ADMIN_TOKEN: undefined } });
  });
  afterAll(() => t.close());

  it('are disabled with 403 ADMIN_DISABLED, whatever token is sent', async () => {
    const res = await t.http.get('/probe/admin').set('x-admin-token', TEST_ADMIN_TOKEN).expect(403);
    expect(res.body).toMatchObject({ code: 'ADMIN_DISABLED' });
  });
});

describe('OpenAPI in production', () => {
  it('is off unless DOCS_ENABLED=true', async () => {
    const prodEnv = {
      NODE_ENV: 'production',
      JWT_SECRET: 'j'.repeat(40),
      KEY_PEPPER: 'p'.repeat(40),
      CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32),
    };
    const off = await createTestApp({ env: prodEnv });
    try {
      await off.http.get('/docs/json').expect(404);
    } finally {
      await off.close();
    }
    const on = await createTestApp({ env: { ...prodEnv, DOCS_ENABLED: 'true' } });
    try {
      await on.http.get('/docs/json').expect(200);
    } finally {
      await on.close();
    }
  });
});
