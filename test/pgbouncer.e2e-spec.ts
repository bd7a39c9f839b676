import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEAF_CACHE_TTL_MS } from '../src/invalidation/listener-heartbeat';
import { openDatabase } from '../src/database/data-source.factory';
import { PgBouncer, pgbouncerInstalled, startPgBouncer } from './helpers/pgbouncer';
import { ServiceProcess, call, serviceDatabase, startService } from './helpers/service-process';
import { TEST_DATABASE_URL } from './helpers/test-database';

const ADMIN_TOKEN = 'pgbouncer-admin-token-0123456789abcdefghij';
const SHARED = {
  ADMIN_TOKEN,
  JWT_SECRET: 'pgbouncer-jwt-secret-0123456789abcdefghijkl',
  KEY_PEPPER: 'pgbouncer-key-pepper-0123456789abcdefghijkl',
  CONFIG_ENCRYPTION_KEY: 'bc'.repeat(32),
};
const PROPAGATION_LIMIT_MS = 1_000;
const DEAF_LOG = 'invalidation listener hears nothing';
const deafLines = (service: ServiceProcess) => service.output().split(DEAF_LOG).length - 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done` holds or `limitMs` passed; returns how long it took (or the limit). */
async function within(limitMs: number, done: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await done()) && performance.now() - started < limitMs) await sleep(50);
  return performance.now() - started;
}

let seeded = 0;
/** A tenant with an owner signed in on `url` and a config:read key. */
async function tenantWithKey(url: string) {
  const admin = { 'x-admin-token': ADMIN_TOKEN };
  const n = ++seeded;
  const tenant = (await call(url, '/admin/tenants', { method: 'POST', headers: admin, body: { name: `Bouncer ${n}` } }))
    .body;
  const owner = { email: `owner${n}@pgbouncer.example`, password: 'violet tractor umbrella bouncer' };
  expect(
    (
      await call(url, `/admin/tenants/${tenant.id}/users`, {
        method: 'POST',
        headers: admin,
        body: { ...owner, role: 'owner' },
      })
    ).status,
  ).toBe(201);
  const bearer = {
    authorization: `Bearer ${(await call(url, '/auth/login', { method: 'POST', body: owner })).body.accessToken}`,
  };
  const key = (
    await call(url, '/auth/api-key/generate', {
      method: 'POST',
      headers: bearer,
      body: { name: 'bouncer', scopes: ['config:read'] },
    })
  ).body;
  return { bearer, key };
}

/** B caches the key and the config document, then A changes the config and revokes the key. */
async function changesOnAReachB(a: ServiceProcess, b: ServiceProcess, limitMs: number) {
  const { bearer, key } = await tenantWithKey(a.url);
  const apiKey = { 'x-api-key': key.apiKey };
  expect(
    (await call(a.url, '/v1/config/entries/region', { method: 'PUT', headers: bearer, body: { value: 'eu-west' } }))
      .status,
  ).toBe(200);
  expect(await call(b.url, '/config', { headers: apiKey })).toEqual({ status: 200, body: { region: 'eu-west' } });

  expect(
    (await call(a.url, '/v1/config/entries/region', { method: 'PUT', headers: bearer, body: { value: 'us-east' } }))
      .status,
  ).toBe(200);
  let config = await call(b.url, '/config', { headers: apiKey });
  const configTook = await within(
    limitMs,
    async () => (config = await call(b.url, '/config', { headers: apiKey })).body?.region === 'us-east',
  );
  expect(config).toEqual({ status: 200, body: { region: 'us-east' } });

  expect((await call(a.url, `/v1/api-keys/${key.id}`, { method: 'DELETE', headers: bearer })).status).toBe(204);
  let last = await call(b.url, '/config', { headers: apiKey });
  const revokeTook = await within(
    limitMs,
    async () => (last = await call(b.url, '/config', { headers: apiKey })).status !== 200,
  );
  expect({ status: last.status, code: last.body?.code }).toEqual({ status: 401, code: 'KEY_REVOKED' });
  return { configTook, revokeTook };
}

// Needs a real PostgreSQL server for PgBouncer to stand in front of.
const suite = TEST_DATABASE_URL ? describe : describe.skip;
const reason = TEST_DATABASE_URL
  ? ''
  : ' (skipped: TEST_DATABASE_URL is unset, and PgBouncer needs a PostgreSQL server)';

suite(`behind PgBouncer in transaction pooling mode${reason}`, () => {
  let bouncer: PgBouncer;
  let database: Awaited<ReturnType<typeof serviceDatabase>>;
  const dirs: string[] = [];
  const running: ServiceProcess[] = [];

  const start = (env: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'keyward-bouncer-'));
    dirs.push(dir);
    return startService({ ...SHARED, ...env, DATA_DIR: dir }).then((service) => (running.push(service), service));
  };
  const stopAll = async () => {
    for (const service of running.splice(0)) await service.stop();
  };

  beforeAll(async () => {
    if (!pgbouncerInstalled()) throw new Error('pgbouncer is not installed: apt-get install -y pgbouncer');
    bouncer = await startPgBouncer('transaction');
    database = await serviceDatabase();
  });
  afterAll(async () => {
    await stopAll();
    await database?.drop();
    await bouncer?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('opens the database through PgBouncer, which refuses statement_timeout as a startup parameter', async () => {
    const opened = await openDatabase({ url: bouncer.through(database.env.DATABASE_URL), poolSize: 2 }, false);
    try {
      expect(await opened.dataSource.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await opened.close();
    }
    // On a direct connection the timeout is still in force.
    const direct = await openDatabase({ url: database.env.DATABASE_URL, poolSize: 1 }, false);
    try {
      expect(await direct.dataSource.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '3s' }]);
    } finally {
      await direct.close();
    }
  });

  describe('with DATABASE_LISTEN_URL pointing at the server directly', () => {
    let a: ServiceProcess;
    let b: ServiceProcess;
    beforeAll(async () => {
      const env = {
        DATABASE_URL: bouncer.through(database.env.DATABASE_URL),
        DATABASE_LISTEN_URL: database.env.DATABASE_URL,
      };
      [a, b] = await Promise.all([start(env), start(env)]);
    });
    afterAll(stopAll);

    it('a config change and a revocation on A reach B within a second, and both are ready', async () => {
      const { configTook, revokeTook } = await changesOnAReachB(a, b, PROPAGATION_LIMIT_MS);
      expect(configTook).toBeLessThanOrEqual(PROPAGATION_LIMIT_MS + 200);
      expect(revokeTook).toBeLessThanOrEqual(PROPAGATION_LIMIT_MS + 200);
      for (const service of [a, b]) {
        expect(await call(service.url, '/ready')).toEqual({ status: 200, body: { status: 'ready' } });
        expect(deafLines(service)).toBe(0);
      }
    });
  });

  describe('without DATABASE_LISTEN_URL (LISTEN through the pooler hears nothing)', () => {
    let a: ServiceProcess;
    let b: ServiceProcess;
    beforeAll(async () => {
      const env = { DATABASE_URL: bouncer.through(database.env.DATABASE_URL) };
      [a, b] = await Promise.all([start(env), start(env)]);
    });
    afterAll(stopAll);

    it('detects the deaf listener: one loud log line, and /ready says degraded', async () => {
      await within(15_000, async () => deafLines(b) > 0);
      expect(deafLines(b)).toBe(1);
      expect(b.output()).toMatch(/"level":"error".*invalidation listener hears nothing.*DATABASE_LISTEN_URL/);
      expect(await call(b.url, '/ready')).toEqual({
        status: 200,
        body: {
          status: 'degraded',
          degraded: [expect.objectContaining({ check: 'changeListener', code: 'LISTENER_DEAF' })],
        },
      });
    });

    it('falls back to short cache lifetimes: changes on A reach B within the short lifetime, not the 60 s one', async () => {
      await within(15_000, async () => deafLines(b) > 0);
      const limit = DEAF_CACHE_TTL_MS + PROPAGATION_LIMIT_MS;
      const { configTook, revokeTook } = await changesOnAReachB(a, b, limit);
      expect(configTook).toBeLessThanOrEqual(limit + 200);
      expect(revokeTook).toBeLessThanOrEqual(limit + 200);
      // Still one line: it is said once, not at every heartbeat.
      expect(deafLines(b)).toBe(1);
    });
  });
});
