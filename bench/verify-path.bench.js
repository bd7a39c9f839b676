// The key check alone, in-process: µs per ApiKeyVerifier.verify() on a cache hit (the hot
// path: shape, SHA-256 cache key, cache, checks, usage count) and on a miss (checksum, HMAC,
// indexed lookup), beside the parts it is made of. Runs the built app on the embedded database.
// Target: a cache hit costs ≤ 5 µs, a small part of the ~35-45 µs of server CPU per /health.
require('reflect-metadata');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { ensureBuilt } = require('../scripts/build-if-stale');

const HIT_TARGET_MICROS = 5;
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
  const config = loadConfig({ NODE_ENV: 'production', DATA_DIR: dataDir, LOG_LEVEL: 'warn', JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnop', KEY_PEPPER: 'bench-key-pepper-0123456789abcdefghijklmnop', CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32) });
  const app = await createApp(config, { logger: createLogger({ level: 'warn' }), database: { embeddedDir: 'memory://' } });
  await app.init();
  try {
    const tenant = await app.get(TenantsService).create({ name: 'Bench' });
    const { apiKey } = await app.get(ApiKeysService).adminCreate({ tenantId: tenant.id, name: 'bench', scopes: ['config:read'] });
    const verifier = app.get(ApiKeyVerifier);
    const format = verifier.format;

    if (!(await verifier.verify(apiKey)).valid) throw new Error('the bench key does not verify');
    const hit = microsPerCall(200_000, () => verifier.verify(apiKey, { ip: '127.0.0.1' }));
    const rows = [
      { step: 'verify(), cache hit (whole hot path)', 'µs/call': hit.toFixed(2) },
      { step: '  shape check (regex)', 'µs/call': microsPerCall(200_000, () => format.hasShape(apiKey)).toFixed(2) },
      { step: '  cache key: one-shot SHA-256', 'µs/call': microsPerCall(200_000, () => format.cacheKey(apiKey)).toFixed(2) },
      { step: '  checksum (CRC-32), misses only', 'µs/call': microsPerCall(200_000, () => format.checksumMatches(apiKey)).toFixed(2) },
      { step: '  HMAC-SHA256 with the pepper, misses only', 'µs/call': microsPerCall(200_000, () => format.hash(apiKey)).toFixed(2) },
    ];
    // A miss: drop the cache before every call, so each one runs the indexed lookup.
    const keyCache = verifier.events.cache;
    const miss = await microsPerAsyncCall(2_000, () => (keyCache.clear(), verifier.verify(apiKey, { ip: '127.0.0.1' })));
    rows.push({ step: 'verify(), cache miss (embedded database lookup)', 'µs/call': miss.toFixed(2) });
    console.log(`median of ${ROUNDS} rounds each, in-process (no HTTP)`);
    console.table(rows);
    const pass = hit <= HIT_TARGET_MICROS;
    console.log(`${pass ? 'PASS' : 'FAIL'}  a cache hit costs ≤ ${HIT_TARGET_MICROS} µs: ${hit.toFixed(2)} µs`);
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
