import { readFileSync } from 'node:fs';
import { createServer, IncomingHttpHeaders, request, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { InvalidationBus } from '../src/invalidation/invalidation.bus';
import { startCaddy } from './helpers/caddy';
import { adminHeaders, createTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';
import { createTestDatabase, describeOnPostgres, dropTestDatabase } from './helpers/test-database';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startNginx } = require('./security/nginx') as {
  startNginx(
    upstream: string,
    options: { servers(port: number): string },
  ): Promise<{ url: string; stop(): Promise<void> }>;
};

/**
 * The README's nginx and Caddy configurations for forward-auth, exactly as written there (only
 * the addresses replaced), with real nginx and Caddy from Debian's packages in front of a small
 * service that echoes the headers it received.
 */
const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const SECTION = README.slice(README.indexOf('## Put Keyward in front of your service'));
const block = (language: string) => {
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(SECTION);
  if (!match) throw new Error(`no ${language} block in the README's forward-auth section`);
  return match[1];
};

interface Addresses {
  keyward: string;
  service: string;
}
const hostOf = (url: string) => new URL(url).host;
const withAddresses = (config: string, { keyward, service }: Addresses) =>
  config.replaceAll('127.0.0.1:3000', hostOf(keyward)).replaceAll('127.0.0.1:8080', hostOf(service));

interface Proxy {
  url: string;
  stop(): Promise<void>;
}
const PROXIES: Record<string, (addresses: Addresses) => Promise<Proxy>> = {
  nginx: (addresses) =>
    startNginx(addresses.service, {
      servers: (port) => withAddresses(block('nginx'), addresses).replace('listen 80;', `listen 127.0.0.1:${port};`),
    }),
  caddy: (addresses) =>
    startCaddy((port) => withAddresses(block('caddyfile'), addresses).replace(':80 {', `http://127.0.0.1:${port} {`)),
};

/** The protected service: answers with what reached it. */
async function startEchoService(): Promise<{ url: string; seen: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: any;
}

/** One request to the proxy from a chosen client address in 127.0.0.0/8. */
function send(
  url: string,
  path: string,
  headers: Record<string, string> = {},
  from = '127.0.0.1',
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers, localAddress: from, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // nginx's own pages are HTML
        }
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function makeKey(t: TestApp, tenantId: string, body: Record<string, unknown> = {}) {
  const res = await t.http
    .post('/admin/api-keys')
    .set(adminHeaders)
    .send({ tenantId, name: 'proxied', scopes: ['config:read'], ...body })
    .expect(201);
  return res.body as { apiKey: string; id: string };
}

describe.each(Object.keys(PROXIES))('forward-auth behind a real %s (the README configuration)', (name) => {
  let t: TestApp;
  let service: Awaited<ReturnType<typeof startEchoService>>;
  let proxy: Proxy;
  let tenantId: string;

  beforeAll(async () => {
    service = await startEchoService();
    t = await createTestApp({ listen: true, env: { TRUST_PROXY: '1' } });
    proxy = await PROXIES[name]({ keyward: t.url!, service: service.url });
    tenantId = (await createTenant(t)).id;
  });
  afterAll(async () => {
    await proxy?.stop();
    await t?.close();
    await service?.close();
  });

  it('no key: 401 at the proxy, and the service is never reached', async () => {
    const before = service.seen.length;
    const res = await send(proxy.url, '/orders');
    expect([res.status, res.headers['x-keyward-code']]).toEqual([401, 'KEY_MISSING']);
    expect(service.seen.length).toBe(before);
  });

  it('a valid key: the service sees its identity, never what the client wrote into X-Keyward-*', async () => {
    const key = await makeKey(t, tenantId, { scopes: ['config:read', 'keys:read'] });
    const res = await send(proxy.url, '/orders?page=2', {
      'x-api-key': key.apiKey,
      'x-keyward-tenant': 'forged-tenant',
      'x-keyward-owner': 'forged-owner',
      'x-keyward-identity': 'forged-identity',
      // The proxy overwrites the requirement too: the client cannot make its own.
      'x-keyward-require-scopes': 'audit:read',
    });
    expect(res.status).toBe(200);
    expect(res.body.url).toBe('/orders?page=2');
    expect(res.body.headers).toMatchObject({
      'x-keyward-tenant': tenantId,
      'x-keyward-key-id': key.id,
      'x-keyward-scopes': 'config:read keys:read',
    });
    // A service key has no owner and no identity yet: nothing of the client's may stand in for them.
    expect(res.body.headers['x-keyward-owner'] ?? '').toBe('');
    expect(res.body.headers['x-keyward-identity'] ?? '').toBe('');
    // The forwarded method and URI reached Keyward's request log, without the query.
    const logged = t.logs
      .map((line) => JSON.parse(line))
      .filter((line) => line.route?.startsWith('/v1/forward-auth') && line.apiKeyId === key.id);
    expect(logged.at(-1).headers).toMatchObject({ 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/orders' });
  });

  it('a request of any method is checked (the proxy asks with GET and names the method)', async () => {
    const key = await makeKey(t, tenantId);
    for (const method of ['POST', 'DELETE']) {
      const res = await send(proxy.url, '/orders/5', { 'x-api-key': key.apiKey }, '127.0.0.1', method);
      expect([method, res.status, res.body.method, res.body.headers['x-keyward-key-id']]).toEqual([
        method,
        200,
        method,
        key.id,
      ]);
      const refused = await send(proxy.url, '/orders/5', {}, '127.0.0.1', method);
      expect([method, refused.status]).toEqual([method, 401]);
    }
    const logged = t.logs.map((line) => JSON.parse(line)).filter((line) => line.apiKeyId === key.id);
    expect(logged.map((line) => [line.method, line.headers['x-forwarded-method']])).toEqual([
      ['GET', 'POST'],
      ['GET', 'DELETE'],
    ]);
  });

  it('a key without the scope the route requires: 403 INSUFFICIENT_SCOPE, and a key with it passes', async () => {
    const reader = await makeKey(t, tenantId);
    const before = service.seen.length;
    const refused = await send(proxy.url, '/admin/tenants', { 'x-api-key': reader.apiKey });
    expect([refused.status, refused.headers['x-keyward-code']]).toEqual([403, 'INSUFFICIENT_SCOPE']);
    expect(service.seen.length).toBe(before);
    const writer = await makeKey(t, tenantId, { scopes: ['keys:write'] });
    const admitted = await send(proxy.url, '/admin/tenants', { 'x-api-key': writer.apiKey });
    expect([admitted.status, admitted.body.headers['x-keyward-key-id']]).toEqual([200, writer.id]);
  });

  it('rate-limited: 429 with Retry-After through the proxy', async () => {
    const key = await makeKey(t, tenantId, { rateLimit: { limit: 1, windowSeconds: 60 } });
    expect((await send(proxy.url, '/orders', { 'x-api-key': key.apiKey })).status).toBe(200);
    const limited = await send(proxy.url, '/orders', { 'x-api-key': key.apiKey });
    expect([limited.status, limited.headers['x-keyward-code']]).toEqual([429, 'RATE_LIMITED']);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('the IP allowlist applies to the client the proxy saw (TRUST_PROXY), whatever X-Forwarded-For it sends', async () => {
    const key = await makeKey(t, tenantId, { ipAllowlist: ['127.0.0.5'] });
    expect((await send(proxy.url, '/orders', { 'x-api-key': key.apiKey }, '127.0.0.5')).status).toBe(200);
    for (const forged of [{}, { 'x-forwarded-for': '127.0.0.5' }] as Record<string, string>[]) {
      const elsewhere = await send(proxy.url, '/orders', { 'x-api-key': key.apiKey, ...forged }, '127.0.0.6');
      expect([elsewhere.status, elsewhere.headers['x-keyward-code']]).toEqual([403, 'KEY_IP_NOT_ALLOWED']);
    }
  });
});

/** Instances of one deployment share their secrets; otherwise each would hash keys with its own pepper. */
const SHARED_SECRETS = {
  JWT_SECRET: 'forward-auth-jwt-secret-0123456789abcdefghij',
  KEY_PEPPER: 'forward-auth-key-pepper-0123456789abcdefghij',
  CONFIG_ENCRYPTION_KEY: 'ef'.repeat(32),
};

describeOnPostgres('forward-auth: a key revoked on another instance is refused through the proxy', () => {
  let databaseName: string;
  let a: TestApp;
  let b: TestApp;
  let service: Awaited<ReturnType<typeof startEchoService>>;
  const proxies: Record<string, Proxy> = {};
  let tenantId: string;

  beforeAll(async () => {
    databaseName = await createTestDatabase();
    service = await startEchoService();
    a = await createTestApp({ reuseDatabase: { name: databaseName }, env: SHARED_SECRETS });
    b = await createTestApp({ reuseDatabase: { name: databaseName }, env: SHARED_SECRETS, listen: true });
    for (const name of Object.keys(PROXIES))
      proxies[name] = await PROXIES[name]({ keyward: b.url!, service: service.url });
    tenantId = (await createTenant(a)).id;
  });
  afterAll(async () => {
    for (const proxy of Object.values(proxies)) await proxy.stop();
    await a?.close();
    await b?.close();
    await service?.close();
    if (databaseName) await dropTestDatabase(databaseName);
  });

  it.each(Object.keys(PROXIES))('%s', async (name) => {
    const manager = await makeKey(a, tenantId, { scopes: ['keys:write'] });
    const key = await makeKey(a, tenantId);
    // B checks the key through the proxy, and so holds it in its cache.
    expect((await send(proxies[name].url, '/orders', { 'x-api-key': key.apiKey })).status).toBe(200);
    const heard = new Promise<void>((resolve) =>
      b.app.get(InvalidationBus).subscribe((change) => change.kind === 'key' && change.keyId === key.id && resolve()),
    );
    await a.http.delete(`/v1/api-keys/${key.id}`).set('x-api-key', manager.apiKey).expect(204);
    await heard;
    const refused = await send(proxies[name].url, '/orders', { 'x-api-key': key.apiKey });
    expect([refused.status, refused.headers['x-keyward-code']]).toEqual([401, 'KEY_REVOKED']);
  });
});
