// The key check alone, in-process: µs per ApiKeyVerifier.verify() on a cache hit (shape,
// cache, checks) and on a miss (checksum, HMAC, indexed lookup), beside the
// parts it is made of; and authenticate(), which adds what every key request also pays: the
// rate limit (in memory) and the usage count. Runs the built app on the embedded database.
// Targets: a cache hit costs ≤ 5 µs; rate limit + usage count ≤ 10% of the server CPU that an
// authenticated request costs (verify.bench.js prints that figure: ~45-60 µs here).
require('reflect-metadata');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { ensureBuilt } = require('../scripts/build-if-stale');

const HIT_TARGET_MICROS = 5;
// A verify call for a key with permissions, a permission query, an identity bucket and two
// named limits: what a service asks on every request it protects.
const RICH_TARGET_MICROS = 10;
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdefghijklmnop';
const LIMITS_TARGET_MICROS = 4.5;
const ROUNDS = 7;

function microsPerCall(calls, work) {
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) work(i);
    times.push(Number(process.hrtime.bigint() - started) / calls / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

async function microsPerAsyncCall(calls, work) {
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await work(i);
    times.push(Number(process.hrtime.bigint() - started) / calls / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

async function main() {
  ensureBuilt({ quiet: true });
  const { createApp } = require('../dist/src/app.factory');
  const { loadConfig } = require('../dist/src/config/app-config');
  const { createLogger } = require('../dist/src/common/logging/logger');
  const { ApiKeyVerifier } = require('../dist/src/api-keys/api-key-verifier.service');
  const { ApiKeysService } = require('../dist/src/api-keys/api-keys.service');
  const { TenantsService } = require('../dist/src/tenants/tenants.service');
  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-bench-'));
  const config = loadConfig({
    NODE_ENV: 'production',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnop',
    KEY_PEPPER: 'bench-key-pepper-0123456789abcdefghijklmnop',
    CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32),
    ADMIN_TOKEN: ADMIN_TOKEN,
  });
  const app = await createApp(config, {
    logger: createLogger({ level: 'warn' }),
    database: { embeddedDir: 'memory://' },
  });
  await app.init();
  try {
    const tenant = await app.get(TenantsService).create({ name: 'Bench' });
    const { apiKey } = await app.get(ApiKeysService).adminCreate({
      tenantId: tenant.id,
      name: 'bench',
      scopes: ['config:read'],
      rateLimit: { limit: 1_000_000_000, windowSeconds: 1 },
    });
    const verifier = app.get(ApiKeyVerifier);
    const format = verifier.format;

    // The key check of the request path: find the key (cache, else database), then what refuses it.
    const use = { ip: '127.0.0.1' };
    const check = (found) => {
      if (!found || verifier.refusal(found, use)) throw new Error('the bench key does not verify');
      return found;
    };
    const verify = () => {
      const found = verifier.find(apiKey);
      return found instanceof Promise ? found.then(check) : check(found);
    };
    await verify();
    const hit = microsPerCall(200_000, verify);
    const rows = [
      { step: 'find + refusal, cache hit (whole key check)', 'µs/call': hit.toFixed(2) },
      { step: '  shape check (regex)', 'µs/call': microsPerCall(200_000, () => format.hasShape(apiKey)).toFixed(2) },
      {
        step: '  checksum (CRC-32), misses only',
        'µs/call': microsPerCall(200_000, () => format.checksumMatches(apiKey)).toFixed(2),
      },
      {
        step: '  HMAC-SHA256 with the pepper, misses only',
        'µs/call': microsPerCall(200_000, () => format.hash(apiKey)).toFixed(2),
      },
    ];
    // What a key request pays on top of verify(): the rate limit and the usage count.
    // Without Redis and without a quota, a cached key is admitted with no promise at all.
    const authenticate = () => verifier.spend(verify(), use.ip);
    if (authenticate() instanceof Promise) throw new Error('a cached key did not authenticate synchronously');
    const authenticateMicros = microsPerCall(100_000, authenticate);
    rows.push({ step: 'find + refusal + spend(): rate limit + usage count', 'µs/call': authenticateMicros.toFixed(2) });
    const limitsAndUsage = authenticateMicros - hit;
    rows.push({ step: '  of which rate limit + usage count', 'µs/call': limitsAndUsage.toFixed(2) });
    // A miss: drop the cache before every call, so each one runs the indexed lookup.
    const keyCache = app.get(require('../dist/src/api-keys/key-cache').KeyCache);
    const miss = await microsPerAsyncCall(2_000, () => (keyCache.clear(), verify()));
    rows.push({ step: 'find + refusal, cache miss (embedded database lookup)', 'µs/call': miss.toFixed(2) });
    const rich = await richVerifyMicros(app, tenant.id, verifier);
    rows.push({
      step: 'verifyFor(), cache hit: permissions + query + identity + 2 limits',
      'µs/call': rich.toFixed(2),
    });
    console.log(`median of ${ROUNDS} rounds each, in-process (no HTTP)`);
    console.table(rows);
    const pass = hit <= HIT_TARGET_MICROS && limitsAndUsage <= LIMITS_TARGET_MICROS && rich <= RICH_TARGET_MICROS;
    console.log(
      `${rich <= RICH_TARGET_MICROS ? 'PASS' : 'FAIL'}  a verify call with permissions, a query, an identity and two limits costs ≤ ${RICH_TARGET_MICROS} µs, synchronously: ${rich.toFixed(2)} µs`,
    );
    console.log(
      `${hit <= HIT_TARGET_MICROS ? 'PASS' : 'FAIL'}  a cache hit costs ≤ ${HIT_TARGET_MICROS} µs: ${hit.toFixed(2)} µs`,
    );
    console.log(
      `${limitsAndUsage <= LIMITS_TARGET_MICROS ? 'PASS' : 'FAIL'}  rate limit + usage count ≤ ${LIMITS_TARGET_MICROS} µs (10% of a ~45 µs authenticated request): ${limitsAndUsage.toFixed(2)} µs`,
    );
    process.exitCode = pass ? 0 : 1;
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Sets up, through the API, a key with a role and a permission of its own, an identity whose
 * `default` limit it shares, and a named limit of its own; then times verifyFor() with a
 * permission query spending `default` and `search`, as POST /v1/keys/verify does.
 */
async function richVerifyMicros(app, tenantId, verifier) {
  const fastify = app.getHttpAdapter().getInstance();
  const call = async (method, url, headers, payload) => {
    const res = await fastify.inject({ method, url, headers, payload });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  // An owner, who may define the tenant's permissions and hand out any of them.
  const owner = { email: 'owner@bench.example', password: 'violet tractor umbrella bench' };
  await call('POST', `/admin/tenants/${tenantId}/users`, { 'x-admin-token': ADMIN_TOKEN }, { ...owner, role: 'owner' });
  const { accessToken } = await call('POST', '/auth/login', {}, owner);
  const asManager = { authorization: `Bearer ${accessToken}` };
  for (const name of ['orders:read', 'orders:write', 'invoices:read'])
    await call('POST', '/v1/permissions', asManager, { name });
  await call('POST', '/v1/roles', asManager, { name: 'support', permissions: ['orders:read', 'invoices:read'] });
  const limit = 1_000_000; // the most a limit may be; a round of calls takes longer than its window
  await call('POST', '/v1/identities', asManager, {
    externalId: 'org_bench',
    ratelimits: [{ name: 'default', limit, windowSeconds: 1 }],
  });
  const rich = await call('POST', '/v1/api-keys', asManager, {
    name: 'rich',
    roles: ['support'],
    permissions: ['orders:write'],
    externalId: 'org_bench',
    rateLimit: { limit, windowSeconds: 1 },
    ratelimits: [{ name: 'search', limit, windowSeconds: 1 }],
  });
  const { PermissionQueryCache } = require('../dist/src/permissions/permission-query');
  const query = new PermissionQueryCache().parse('orders:write AND (orders:read OR admin)');
  const spending = {
    ratelimits: [
      { name: 'default', cost: 1 },
      { name: 'search', cost: 1 },
    ],
    cost: 1,
  };
  const once = () => verifier.verifyFor(tenantId, rich.apiKey, undefined, query, spending);
  const first = await once();
  if (first.code || first.ratelimits.length !== 2 || first.key.identity?.externalId !== 'org_bench')
    throw new Error(`the rich key does not verify as expected: ${JSON.stringify({ ...first, key: undefined })}`);
  if (once() instanceof Promise) throw new Error('a verify call of a cached key without a quota was not synchronous');
  return microsPerCall(100_000, once);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
