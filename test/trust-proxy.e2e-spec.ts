import { request } from 'node:http';
import { SCOPES } from '../src/common/auth/scopes';
import { adminHeaders, createTenant, createUser, TestUser } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startNginx } = require('./security/nginx') as {
  startNginx(upstream: string): Promise<{ url: string; stop(): Promise<void> }>;
};

interface Answer {
  status: number;
  body: any;
}

/** One request from a chosen source address in 127.0.0.0/8 (the "client" nginx sees). */
function send(
  url: string,
  method: string,
  path: string,
  { from, headers = {}, body }: { from: string; headers?: Record<string, string>; body?: unknown },
): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const h = {
    ...headers,
    ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers: h, localAddress: from, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** The service (in-process, on a real port) behind a real nginx from Debian's packages. */
async function behindNginx(env: Record<string, string>) {
  const t = await createTestApp({ listen: true, env });
  const nginx = await startNginx(t.url!);
  return { t, proxy: nginx.url, close: async () => (await nginx.stop(), await t.close()) };
}

describe('TRUST_PROXY behind a real nginx', () => {
  /** Signs in through the proxy from `from`; returns the address its session and audit event recorded. */
  async function signInFrom(proxy: string, t: TestApp, user: TestUser, from: string) {
    const login = await send(proxy, 'POST', '/auth/login', {
      from,
      body: { email: user.email, password: user.password },
    });
    expect(login.status).toBe(200);
    const auth = { authorization: `Bearer ${login.body.accessToken}` };
    const sessions = await send(proxy, 'GET', '/auth/sessions', { from, headers: auth });
    const current = (sessions.body as { current: boolean; ip: string }[]).find((s) => s.current)!;
    const audit = await t.http.get('/v1/audit-events?action=auth.login').set(auth);
    return {
      auth,
      sessionIp: current.ip,
      auditIps: (audit.body.items as { ip: string; actor?: { id: string } }[]).map((e) => e.ip),
    };
  }

  async function allowlistedKey(t: TestApp, tenantId: string, address: string): Promise<string> {
    const manager = (
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId, name: 'manager', scopes: [...SCOPES] })
        .expect(201)
    ).body.apiKey;
    return (
      await t.http
        .post('/v1/api-keys')
        .set({ 'x-api-key': manager })
        .send({ name: 'pinned', scopes: ['config:read'], ipAllowlist: [address] })
        .expect(201)
    ).body.apiKey;
  }

  it('without TRUST_PROXY every client is the proxy (127.0.0.1), and a forged X-Forwarded-For changes nothing', async () => {
    const { t, proxy, close } = await behindNginx({});
    try {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.id, 'owner');
      const seen = await signInFrom(proxy, t, user, '127.0.0.5');
      expect(seen.sessionIp).toBe('127.0.0.1');
      expect(seen.auditIps).toContain('127.0.0.1');
      expect(seen.auditIps).not.toContain('127.0.0.5');
      const key = await allowlistedKey(t, tenant.id, '127.0.0.5');
      expect(
        (await send(proxy, 'GET', '/auth/me', { from: '127.0.0.5', headers: { 'x-api-key': key } })).body.code,
      ).toBe('KEY_IP_NOT_ALLOWED');
      const forged = await send(proxy, 'GET', '/auth/me', {
        from: '127.0.0.5',
        headers: { 'x-api-key': key, 'x-forwarded-for': '127.0.0.5' },
      });
      expect(forged.body.code).toBe('KEY_IP_NOT_ALLOWED');
    } finally {
      await close();
    }
  });

  it.each([['1'], ['127.0.0.1/32']])(
    'with TRUST_PROXY=%s the client nginx saw is used, and a forged X-Forwarded-For cannot get past the trusted hop',
    async (trust) => {
      const { t, proxy, close } = await behindNginx({ TRUST_PROXY: trust });
      try {
        const tenant = await createTenant(t);
        const user = await createUser(t, tenant.id, 'owner');
        const seen = await signInFrom(proxy, t, user, '127.0.0.5');
        expect(seen.sessionIp).toBe('127.0.0.5');
        expect(seen.auditIps).toContain('127.0.0.5');

        const key = await allowlistedKey(t, tenant.id, '127.0.0.5');
        expect(
          (await send(proxy, 'GET', '/auth/me', { from: '127.0.0.5', headers: { 'x-api-key': key } })).status,
        ).toBe(200);
        const elsewhere = await send(proxy, 'GET', '/auth/me', { from: '127.0.0.6', headers: { 'x-api-key': key } });
        expect([elsewhere.status, elsewhere.body.code]).toEqual([403, 'KEY_IP_NOT_ALLOWED']);
        // nginx appends 127.0.0.6 to what the client wrote; only that last hop is believed.
        for (const forged of ['127.0.0.5', '127.0.0.5, 127.0.0.5', '10.0.0.1, 127.0.0.5']) {
          const res = await send(proxy, 'GET', '/auth/me', {
            from: '127.0.0.6',
            headers: { 'x-api-key': key, 'x-forwarded-for': forged },
          });
          expect([forged, res.status, res.body.code]).toEqual([forged, 403, 'KEY_IP_NOT_ALLOWED']);
        }
        // One client guessing passwords locks only itself out, not every client of the proxy.
        const guess = () =>
          send(proxy, 'POST', '/auth/login', {
            from: '127.0.0.6',
            body: { email: user.email, password: 'wrong password guess' },
          });
        for (let i = 0; i < t.config.loginFailuresPerAccount; i++) expect((await guess()).status).toBe(401);
        expect((await guess()).status).toBe(429);
        const other = await signInFrom(proxy, t, user, '127.0.0.7');
        expect(other.sessionIp).toBe('127.0.0.7');
      } finally {
        await close();
      }
    },
  );
});
