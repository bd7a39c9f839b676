// What one key verification costs, in-process on PostgreSQL (BENCH_DATABASE_URL), for
// targets.bench.js: each step of the cold path (checks, HMAC, pool acquire, the prepared query,
// row mapping, cache write) beside the whole cold and cached verification; database queries and
// Redis commands per verification (counted on the clients); heap per 100k cached keys.
// Run with --expose-gc; argument: a JSON file of real presented keys. Prints one JSON line.
require('reflect-metadata');
const { readFileSync } = require('node:fs');
const pg = require('pg');
const Redis = require('ioredis');

const ROUNDS = 5;
const keys = JSON.parse(readFileSync(process.argv[2], 'utf8'));

let queries = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (...args) {
  queries++;
  return query.apply(this, args);
};
let redisCommands = 0;
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (...args) {
  redisCommands++;
  return sendCommand.apply(this, args);
};

/** Median over ROUNDS of the µs per call of `calls` awaited calls of work(i). */
async function micros(calls, work) {
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await work(round * calls + i);
    times.push(Number(process.hrtime.bigint() - started) / calls / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

async function openApp(extraEnv) {
  const { createApp } = require('../dist/src/app.factory');
  const { loadConfig } = require('../dist/src/config/app-config');
  const { createLogger } = require('../dist/src/common/logging/logger');
  const config = loadConfig({
    NODE_ENV: 'production',
    DATA_DIR: require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'keyward-bench-')),
    LOG_LEVEL: 'warn',
    DATABASE_URL: process.env.BENCH_DATABASE_URL,
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnop',
    KEY_PEPPER: 'bench-key-pepper-0123456789abcdefghijklmnop',
    CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32),
    ...extraEnv,
  });
  const app = await createApp(config, { logger: createLogger({ level: 'warn' }) });
  await app.init();
  return app;
}

/** Queries and Redis commands per verification: find + spend, as the guard does per request. */
async function perVerification(verifier, keyCache, presented) {
  const counts = async (work) => {
    const [q, r] = [queries, redisCommands];
    for (let i = 0; i < 200; i++) await work(i);
    return { queries: (queries - q) / 200, redis: (redisCommands - r) / 200 };
  };
  const verify = async (key) => verifier.spend(await verifier.find(key), '127.0.0.1');
  await verify(presented[0]);
  const cached = await counts(() => verify(presented[0]));
  const cold = await counts((i) => (keyCache.clear(), verify(presented[1 + i])));
  return { cached, cold };
}

async function main() {
  const { ApiKeyVerifier, cachedKeyOf } = require('../dist/src/api-keys/api-key-verifier.service');
  const { KeyCache } = require('../dist/src/api-keys/key-cache');
  const { KEYS_BY_HASHES, KeyLookupRepository } = require('../dist/src/api-keys/key-lookup.repository');
  const { directPoolOf } = require('../dist/src/database/data-source.factory');
  const { DataSource } = require('typeorm');

  const app = await openApp({});
  const result = {};
  try {
    const verifier = app.get(ApiKeyVerifier);
    const keyCache = app.get(KeyCache);
    const lookups = app.get(KeyLookupRepository);
    const dataSource = app.get(DataSource);
    const pool = directPoolOf(dataSource);
    const format = verifier.format;
    const key = (i) => keys[i % keys.length];
    const hashes = keys.slice(0, 20_000).map((k) => format.hash(k));
    const hash = (i) => hashes[i % hashes.length];
    const row = await lookups.findByHash(hash(0));
    if (!row) throw new Error('the bench keys are not in the database');

    // A connection held for the round trips of one connection; released before anything else
    // ends, or the pool's end (app.close) waits for it forever.
    const client = await pool.connect();
    let steps;
    try {
      steps = await costSteps();
    } finally {
      client.release();
    }
    async function costSteps() {
      return [
        [
          'shape and checksum (CRC-32)',
          await micros(20_000, (i) => format.hasShape(key(i)) && format.checksumMatches(key(i))),
        ],
        ['HMAC-SHA256 with the pepper', await micros(20_000, (i) => format.hash(key(i)))],
        ['pool acquire + release (idle connection)', await micros(2_000, async () => (await pool.connect()).release())],
        [
          'prepared lookup on a held connection (round trip)',
          await micros(1_000, (i) =>
            client.query({ name: KEYS_BY_HASHES[0].name, text: KEYS_BY_HASHES[0].text, values: [hash(i)] }),
          ),
        ],
        [
          'same query unprepared on a held connection',
          await micros(1_000, (i) => client.query(KEYS_BY_HASHES[0].text, [hash(i)])),
        ],
        [
          'same query through the ORM query runner (before)',
          await micros(1_000, (i) => dataSource.query(KEYS_BY_HASHES[0].text, [hash(i)])),
        ],
        ['findByHash alone: prepared on the pool', await micros(1_000, (i) => lookups.findByHash(hash(i)))],
        [
          'findByHash, 50 misses at once (one query), per miss',
          (await micros(200, (i) =>
            Promise.all(Array.from({ length: 50 }, (_, j) => lookups.findByHash(hash(i * 50 + j)))),
          )) / 50,
        ],
        ['row mapping (cachedKeyOf)', await micros(20_000, () => cachedKeyOf(row))],
        [
          'cache write',
          await micros(20_000, (i) => keyCache.set(key(i), cachedKeyOf(row), Date.now(), keyCache.epoch)),
        ],
        [
          'whole cold verification (find + spend, cache emptied)',
          await micros(
            1_000,
            async (i) => (keyCache.clear(), verifier.spend(await verifier.find(key(i)), '127.0.0.1')),
          ),
        ],
        [
          'whole cached verification (find + spend)',
          // find is synchronous once the key is cached: load it first (the cold step left another).
          (await verifier.find(key(0)), await micros(20_000, () => verifier.spend(verifier.find(key(0)), '127.0.0.1'))),
        ],
      ];
    }
    result.steps = steps.map(([step, value]) => ({ step, 'µs/call': value.toFixed(2) }));
    const counted = await perVerification(verifier, keyCache, keys);
    result.queries = { cached: counted.cached.queries, cold: counted.cold.queries };

    // Heap per 100k cached keys: the entries of a cache of 100k, each under its own copy of the
    // presented key (in the server the key string comes from the request and the cache keeps it).
    const rows = [];
    for (let i = 0; i < 100_000; i += 1_000)
      rows.push(...(await Promise.all(keys.slice(i, i + 1_000).map((k) => lookups.findByHash(format.hash(k))))));
    const cache = new KeyCache(100_000, 60_000, 5_000);
    global.gc();
    global.gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < rows.length; i++)
      if (rows[i]) cache.set(Buffer.from(keys[i]).toString('latin1'), cachedKeyOf(rows[i]), Date.now(), cache.epoch);
    global.gc();
    global.gc();
    const after = process.memoryUsage().heapUsed;
    result.memory = {
      entries: cache.size,
      bytesPerKey: (after - before) / cache.size,
      per100kMiB: (((after - before) / cache.size) * 100_000) / 2 ** 20,
    };
  } finally {
    await app.close();
  }

  // The same with the rate limit in Redis (REDIS_URL), where the local Redis answers.
  const redisApp = await openApp({ REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' }).catch(
    () => undefined,
  );
  if (redisApp) {
    try {
      const counted = await perVerification(redisApp.get(ApiKeyVerifier), redisApp.get(KeyCache), keys.slice(5_000));
      result.redis = { cached: counted.cached.redis, cold: counted.cold.redis };
    } finally {
      await redisApp.close();
    }
  } else result.redis = { cached: 'n/a', cold: 'n/a' };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// The parent waits for this process to exit: exit once the line is written, whatever handle
// (a pool, a Redis client, a timer) is still open.
main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
