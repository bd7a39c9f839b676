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

    if (!(await verifier.verify(apiKey)).valid) throw new Error('the bench key does not verify');
    const hit = microsPerCall(200_000, () => verifier.verify(apiKey, { ip: '127.0.0.1' }));
    const rows = [
      { step: 'verify(), cache hit (whole hot path)', 'µs/call': hit.toFixed(2) },
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
    if (verifier.authenticate(apiKey, '127.0.0.1') instanceof Promise)
      throw new Error('a cached key did not authenticate synchronously');
    const authenticate = microsPerCall(100_000, () => verifier.authenticate(apiKey, '127.0.0.1'));
    rows.push({ step: 'authenticate(): verify + rate limit + usage count', 'µs/call': authenticate.toFixed(2) });
    const limitsAndUsage = authenticate - hit;
    rows.push({ step: '  of which rate limit + usage count', 'µs/call': limitsAndUsage.toFixed(2) });
    // A miss: drop the cache before every call, so each one runs the indexed lookup.
    const keyCache = app.get(require('../dist/src/api-keys/key-cache').KeyCache);
    const miss = await microsPerAsyncCall(
      2_000,
      () => (keyCache.clear(), verifier.verify(apiKey, { ip: '127.0.0.1' })),
    );
    rows.push({ step: 'verify(), cache miss (embedded database lookup)', 'µs/call': miss.toFixed(2) });
    console.log(`median of ${ROUNDS} rounds each, in-process (no HTTP)`);
    console.table(rows);
    const pass = hit <= HIT_TARGET_MICROS && limitsAndUsage <= LIMITS_TARGET_MICROS;
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

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
