// `npm run seed:demo`: a populated demo tenant for a first look at the dashboard. It boots the
// built application in this process, against the database the environment selects (DATABASE_URL,
// or the embedded one in DATA_DIR), and goes through the HTTP API as any client would; only the
// past week of usage is written directly, since it cannot be produced in the past.
const { randomBytes } = require('node:crypto');
const { ensureBuilt } = require('./build-if-stale');

const DEMO = { name: 'Demo', slug: 'demo' };
const DOMAIN = 'demo.keyward.local';

async function main() {
  ensureBuilt();
  require('reflect-metadata');
  const pino = require('pino');
  const { DataSource } = require('typeorm');
  const { createApp } = require('../dist/src/app.factory');
  const { loadConfig } = require('../dist/src/config/app-config');
  const { createLogger } = require('../dist/src/common/logging/logger');

  // A one-off operator token for this process only; the service's own ADMIN_TOKEN is not needed.
  const adminToken = randomBytes(32).toString('hex');
  const config = loadConfig({ ...process.env, ADMIN_TOKEN: adminToken, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const logger = createLogger({ level: config.logLevel, destination: pino.destination(2) });
  const app = await createApp(config, { logger });
  await app.init();
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();

  const call = async (method, url, { headers = {}, body } = {}) => {
    const res = await fastify.inject({
      method,
      url,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = res.body ? JSON.parse(res.body) : undefined;
    return { status: res.statusCode, body: json };
  };
  const must = async (expected, method, url, options) => {
    const res = await call(method, url, options);
    if (res.status !== expected)
      throw new Error(`${method} ${url} answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const admin = { 'x-admin-token': adminToken };

  try {
    const tenants = await must(200, 'GET', '/admin/tenants', { headers: admin });
    const list = Array.isArray(tenants) ? tenants : (tenants.items ?? tenants.data ?? []);
    if (list.some((tenant) => tenant.slug === DEMO.slug)) {
      process.stderr.write(`The demo tenant (slug "${DEMO.slug}") already exists; nothing was changed.\n`);
      process.exitCode = 2;
      return;
    }
    const tenant = await must(201, 'POST', '/admin/tenants', { headers: admin, body: DEMO });

    // One generated password for the three demo people, printed once below.
    const password = `demo ${randomBytes(12).toString('base64url')}`;
    const people = ['owner', 'member', 'viewer'].map((role) => ({ role, email: `${role}@${DOMAIN}` }));
    for (const person of people)
      await must(201, 'POST', `/admin/tenants/${tenant.id}/users`, { headers: admin, body: { ...person, password } });

    const signIn = async (email) => ({
      authorization: `Bearer ${(await must(200, 'POST', '/auth/login', { body: { email, password } })).accessToken}`,
    });
    const owner = await signIn(people[0].email);
    const member = await signIn(people[1].email);

    const keys = [];
    for (const [who, body] of [
      [owner, { name: 'production backend', scopes: ['config:read', 'keys:verify'] }],
      [owner, { name: 'ci deploy', scopes: ['config:read', 'config:write'] }],
      [member, { name: 'laptop', scopes: ['config:read'] }],
      [member, { name: 'old laptop', scopes: ['config:read'] }],
    ]) {
      keys.push(await must(201, 'POST', '/v1/api-keys', { headers: who, body }));
    }
    await must(204, 'DELETE', `/v1/api-keys/${keys[3].id}`, { headers: member });

    for (const [name, value, secret] of [
      ['api_url', 'https://api.demo.example.com', false],
      ['feature_flags', { newCheckout: true, darkMode: false }, false],
      ['max_upload_mb', 25, false],
      ['payment_api_key', `sk_demo_${randomBytes(12).toString('hex')}`, true],
    ]) {
      await must(200, 'PUT', `/v1/config/entries/${name}`, {
        headers: owner,
        body: secret ? { value, secret } : { value },
      });
    }

    // Some real traffic this hour (successes and a denial), counted by the service itself...
    for (let i = 0; i < 20; i++) await call('GET', '/config', { headers: { 'x-api-key': keys[i % 3].apiKey } });
    await call('GET', '/config', { headers: { 'x-api-key': keys[3].apiKey } });
    // ...and the week before it, written as hourly buckets: a daily rhythm, a few denials.
    const hourMs = 3_600_000;
    const thisHour = Math.floor(Date.now() / hourMs) * hourMs;
    const rows = [];
    keys.slice(0, 3).forEach((key, k) => {
      for (let h = 1; h <= 7 * 24; h++) {
        const at = new Date(thisHour - h * hourMs);
        const daytime = at.getUTCHours() >= 7 && at.getUTCHours() <= 19;
        const success = Math.round((daytime ? 40 : 8) / (k + 1) + ((h * 7 + k * 13) % 11));
        const denied = h % 17 === 0 ? { RATE_LIMITED: 3 + (h % 5) } : h % 29 === 0 ? { KEY_EXPIRED: 1 } : {};
        rows.push([key.id, at, tenant.id, success, JSON.stringify(denied)]);
      }
    });
    const dataSource = app.get(DataSource);
    for (let i = 0; i < rows.length; i += 100) {
      const chunk = rows.slice(i, i + 100);
      await dataSource.query(
        `INSERT INTO key_usage (api_key_id, hour, tenant_id, success, denied) VALUES ${chunk.map((_, j) => `($${j * 5 + 1}, $${j * 5 + 2}, $${j * 5 + 3}, $${j * 5 + 4}, $${j * 5 + 5}::jsonb)`).join(', ')}
         ON CONFLICT (api_key_id, hour) DO NOTHING`,
        chunk.flat(),
      );
    }

    process.stdout.write(
      [
        `Demo tenant "${tenant.name}" (${tenant.id}) created with ${keys.length} API keys (one revoked), 4 configuration entries and a week of usage.`,
        'Sign in at /login with any of these (the password is shown only now):',
        ...people.map((person) => `  ${person.role.padEnd(6)} ${person.email}`),
        // Alone on its line and quoted: the password has a space in it ("demo ...").
        'Password of all three, everything between the double quotes:',
        `  ${JSON.stringify(password)}`,
        '',
      ].join('\n'),
    );
  } finally {
    // Flushes the counted usage of this hour.
    await app.close();
  }
}

main().catch((error) => {
  process.stderr.write(`seed:demo failed: ${error.message}\n`);
  process.exit(1);
});
