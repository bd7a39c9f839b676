// API-key verification cost: authenticated GET /config (x-api-key) against GET /health, and the
// forward-auth check a proxy makes (GET /v1/forward-auth, same key) against GET /config, with
// 1k and 1M keys in the tenant's table, with the in-process key cache on (default) and off
// (KEY_CACHE_TTL_SECONDS=0). Runs on PostgreSQL: BENCH_DATABASE_URL, or a fresh database
// keyward_bench_<pid> on the local server that is created here and dropped at the end.
// Targets: authenticated ≥ 0.85× /health with a warm cache, forward-auth ≥ 0.9× /config; 1M keys
// cost ≤ 1.2× the 1k cost.
// Beside throughput it prints the server process's CPU µs per request (from /proc). The server
// and the load generator each get a core of their own where there are two (see lib.js).
// BENCH_SECONDS shortens the runs, BENCH_ROUNDS (default 7) sets how many turns they take,
// BENCH_KEY_COUNTS (default 1000,1000000) changes the sizes, BENCH_POSTGRES_URL names the
// server on which the fresh database is made, BENCH_PIN=0 lets both share the cores.
const { readFileSync } = require('node:fs');
const { Client } = require('pg');
const { startServer, pinLoadGenerator, api, run, summarize, ADMIN_TOKEN } = require('./lib');

const DURATION = Number(process.env.BENCH_SECONDS ?? 21);
const WARMUP_SECONDS = Math.min(2, DURATION);
const CONNECTIONS = 10;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const KEY_COUNTS = (process.env.BENCH_KEY_COUNTS ?? '1000,1000000').split(',').map(Number);
const LOCAL_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const AUTH_VS_HEALTH_TARGET = 0.85;
const FORWARD_AUTH = '/v1/forward-auth';
// Forward-auth is meant to cost what a cached /config costs (it answers no body at all).
const FORWARD_VS_CONFIG_TARGET = 0.9;
const LARGE_VS_SMALL_TARGET = 1.2;
const CACHE_MODES = [
  { name: 'on', env: {} },
  { name: 'off', env: { KEY_CACHE_TTL_SECONDS: '0' } },
];

async function withClient(url, work) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** BENCH_DATABASE_URL as given, or a database of our own that `drop` removes. */
async function prepareDatabase() {
  if (process.env.BENCH_DATABASE_URL)
    return { url: process.env.BENCH_DATABASE_URL, owned: false, drop: async () => undefined };
  const name = `keyward_bench_${process.pid}`;
  await withClient(LOCAL_SERVER, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(LOCAL_SERVER);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    owned: true,
    drop: () => withClient(LOCAL_SERVER, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

/** Adds bulk keys straight into the table until the tenant has `target` keys in all. */
async function growKeys(url, tenantId, target) {
  return withClient(url, async (client) => {
    const [{ count }] = (
      await client.query('SELECT count(*)::int AS count FROM api_keys WHERE tenant_id = $1', [tenantId])
    ).rows;
    const [{ bulk }] = (
      await client.query("SELECT count(*)::int AS bulk FROM api_keys WHERE tenant_id = $1 AND hint = 'kw_bulk'", [
        tenantId,
      ])
    ).rows;
    const started = Date.now();
    if (count < target) {
      // Bulk rows are numbered on from the ones already there; no real key can match their hashes.
      await client.query(
        `INSERT INTO api_keys (tenant_id, name, key_hash, hint, scopes)
         SELECT $1, 'bulk', md5(i::text) || md5((i*7)::text), 'kw_bulk', '{config:read}' FROM generate_series($2::int, $3::int) i`,
        [tenantId, bulk + 1, bulk + (target - count)],
      );
    }
    // ANALYZE for the planner; VACUUM and CHECKPOINT now, so that autovacuum and the
    // checkpointer do not work through the new rows during the measurements.
    await client.query('VACUUM (ANALYZE) api_keys');
    await client.query('CHECKPOINT').catch(() => undefined);
    const [{ total }] = (
      await client.query('SELECT count(*)::int AS total FROM api_keys WHERE tenant_id = $1', [tenantId])
    ).rows;
    console.log(
      `tenant has ${total} keys (bulk insert, VACUUM ANALYZE: ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    return total;
  });
}

/**
 * /health, /config and /v1/forward-auth take turns in ROUNDS short runs, and each ratio is the
 * median of the paired rounds: on a shared 2-core machine throughput drifts by ±20% from one run
 * to the next, and pairing neighbouring runs cancels most of that drift.
 */
async function measure(server, apiKey) {
  const auth = { headers: { 'x-api-key': apiKey } };
  // The server's own CPU time per request as well as throughput: autocannon shares the two
  // cores, so CPU µs per request says more about what the server itself spends.
  const runFor = async (path, extra) => {
    const before = serverCpuMicros(server);
    const result = await run({
      url: `${server.url}${path}`,
      connections: CONNECTIONS,
      duration: DURATION / ROUNDS,
      ...extra,
    });
    return { ...result, cpuMicros: (serverCpuMicros(server) - before) / result.requests.total };
  };
  // Warm up: JIT, the pool, and (cache on) the key's cache entry; not counted.
  await run({ url: `${server.url}/health`, connections: CONNECTIONS, duration: WARMUP_SECONDS });
  await run({ url: `${server.url}/config`, connections: CONNECTIONS, duration: WARMUP_SECONDS, ...auth });
  await run({ url: `${server.url}${FORWARD_AUTH}`, connections: CONNECTIONS, duration: WARMUP_SECONDS, ...auth });
  const health = [];
  const config = [];
  const forward = [];
  for (let round = 0; round < ROUNDS; round++) {
    health.push(await runFor('/health', {}));
    config.push(await runFor('/config', auth));
    forward.push(await runFor(FORWARD_AUTH, auth));
  }
  const ratios = config.map((result, i) => result.requests.average / health[i].requests.average);
  const forwardRatios = forward.map((result, i) => result.requests.average / config[i].requests.average);
  return {
    health: combine(health),
    config: combine(config),
    forward: combine(forward),
    ratio: median(ratios),
    ratios,
    forwardRatio: median(forwardRatios),
    forwardRatios,
  };
}

/** utime + stime of the server process, in µs (Linux /proc; clock ticks are 10 ms). */
function serverCpuMicros(server) {
  const fields = readFileSync(`/proc/${server.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** One result from several runs: mean throughput, median latencies, summed counts. */
function combine(results) {
  const sum = (pick) => results.reduce((total, result) => total + pick(result), 0);
  return {
    requests: { average: sum((r) => r.requests.average) / results.length },
    cpuMicros: median(results.map((r) => r.cpuMicros)),
    latency: {
      p50: median(results.map((r) => r.latency.p50)),
      p99: median(results.map((r) => r.latency.p99)),
      max: Math.max(...results.map((r) => r.latency.max)),
      mean: Math.round((sum((r) => r.latency.mean) / results.length) * 100) / 100,
    },
    '2xx': sum((r) => r['2xx']),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
  };
}

const row = (name, result) => {
  const { errors, non2xx, ...figures } = summarize(name, result);
  return {
    ...figures,
    'mean ms': result.latency.mean,
    'server CPU µs/req': result.cpuMicros.toFixed(1),
    non2xx,
    errors,
  };
};
const cost = (result) => 1 / result.requests.average;
const ok = (result) => result.non2xx === 0 && result.errors === 0 && result.timeouts === 0 && result['2xx'] > 0;

async function main() {
  const cores = pinLoadGenerator();
  const database = await prepareDatabase();
  let server;
  let tenantId;
  const stop = async () => {
    await server?.stop();
    server = undefined;
  };
  process.once('SIGINT', () => void stop().finally(() => database.drop().finally(() => process.exit(130))));
  try {
    const start = async (env) => (server = await startServer({ DATABASE_URL: database.url, ...env }));

    // The tenant and its real keys, made through the API (the first start also migrates).
    await start({});
    const admin = { 'x-admin-token': ADMIN_TOKEN };
    const tenant = await api(server.url, 'POST', '/admin/tenants', { name: `Bench ${process.pid}` }, admin);
    tenantId = tenant.id;
    // Its rate limit is counted on every request but set high enough never to refuse one.
    const key = await api(
      server.url,
      'POST',
      '/admin/api-keys',
      {
        tenantId: tenant.id,
        name: 'bench reader',
        scopes: ['config:read'],
        rateLimit: { limit: 1_000_000, windowSeconds: 1 },
      },
      admin,
    );
    await api(
      server.url,
      'POST',
      '/admin/api-keys',
      { tenantId: tenant.id, name: 'bench spare', scopes: ['config:read'] },
      admin,
    );
    await stop();

    const results = new Map();
    for (const count of KEY_COUNTS) {
      const total = await growKeys(database.url, tenant.id, count);
      for (const mode of CACHE_MODES) {
        await start(mode.env);
        try {
          results.set(`${count}/${mode.name}`, { total, ...(await measure(server, key.apiKey)) });
        } finally {
          await stop();
        }
      }
    }

    // One table: both endpoints for every (keys, cache) pair, with the ratios beside /config.
    const [small, large] = [KEY_COUNTS[0], KEY_COUNTS.at(-1)];
    const label = (count) =>
      count >= 1_000_000 ? `${count / 1_000_000}M` : count >= 1_000 ? `${count / 1_000}k` : String(count);
    const rows = [];
    const checks = [];
    for (const mode of CACHE_MODES) {
      for (const count of KEY_COUNTS) {
        const r = results.get(`${count}/${mode.name}`);
        const authVsHealth = r.ratio;
        const base = results.get(`${small}/${mode.name}`);
        const largeVsSmall = count === small ? undefined : cost(r.config) / cost(base.config);
        const prefix = `${label(count)} keys, cache ${mode.name}:`;
        rows.push({
          ...row(`${prefix} GET /health`, r.health),
          'auth/health': '',
          'fwd/config': '',
          [`${label(large)}/${label(small)} cost`]: '',
        });
        rows.push({
          ...row(`${prefix} GET /config (key)`, r.config),
          'auth/health': `${authVsHealth.toFixed(3)} (${r.ratios.map((ratio) => ratio.toFixed(2)).join(' ')})`,
          'fwd/config': '',
          [`${label(large)}/${label(small)} cost`]: largeVsSmall === undefined ? '' : largeVsSmall.toFixed(3),
        });
        rows.push({
          ...row(`${prefix} GET ${FORWARD_AUTH} (key)`, r.forward),
          'auth/health': '',
          'fwd/config': `${r.forwardRatio.toFixed(3)} (${r.forwardRatios.map((ratio) => ratio.toFixed(2)).join(' ')})`,
          [`${label(large)}/${label(small)} cost`]: '',
        });
        checks.push({
          what: `${prefix} every request answered 2xx`,
          pass: ok(r.health) && ok(r.config) && ok(r.forward),
          detail: `non2xx ${r.health.non2xx + r.config.non2xx + r.forward.non2xx}, errors ${r.health.errors + r.config.errors + r.forward.errors}`,
        });
        if (mode.name === 'on') {
          checks.push({
            what: `${prefix} forward-auth/config ≥ ${FORWARD_VS_CONFIG_TARGET}`,
            pass: r.forwardRatio >= FORWARD_VS_CONFIG_TARGET,
            detail: r.forwardRatio.toFixed(3),
          });
          checks.push({
            what: `${prefix} authenticated/health ≥ ${AUTH_VS_HEALTH_TARGET}`,
            pass: authVsHealth >= AUTH_VS_HEALTH_TARGET,
            detail: authVsHealth.toFixed(3),
          });
        }
        if (largeVsSmall !== undefined) {
          checks.push({
            what: `cache ${mode.name}: ${label(count)}-key cost ≤ ${LARGE_VS_SMALL_TARGET}× the ${label(small)}-key cost`,
            pass: largeVsSmall <= LARGE_VS_SMALL_TARGET,
            detail: `${largeVsSmall.toFixed(3)} (1/req/s)`,
          });
        }
      }
    }
    console.log(
      `\n${CONNECTIONS} connections, ${DURATION} s per endpoint in ${ROUNDS} alternating rounds (after ${WARMUP_SECONDS} s warm-up), ${cores}, PostgreSQL${database.owned ? ' (fresh database)' : ''}, keys in the tenant: ${KEY_COUNTS.map((count) => results.get(`${count}/on`).total).join(' / ')}`,
    );
    console.log('auth/health is the median of the paired rounds (each round in brackets)');
    console.table(rows);
    for (const check of checks) console.log(`${check.pass ? 'PASS' : 'FAIL'}  ${check.what}: ${check.detail}`);
    process.exitCode = checks.every((check) => check.pass) ? 0 : 1;
  } finally {
    await stop();
    // In a database that is not ours, remove what we added (the keys go with their tenant).
    if (!database.owned && tenantId)
      await withClient(database.url, (client) => client.query('DELETE FROM tenants WHERE id = $1', [tenantId]));
    await database.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
