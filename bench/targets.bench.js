// Every performance target of Keyward, measured side by side in one run and printed as one
// table: each target is a ratio between two figures measured in the same rounds, never an
// absolute number (the machine is shared and its speed drifts by ±20% from minute to minute).
//
//   /health                         ≥ 0.85× a bare NestJS + Fastify hello route (peers/nest-fastify.js)
//   GET /config, cached key         ≥ 0.5×  bare node:http (peers/node-http.js)
//   POST /v1/keys/verify            ≥ 0.85× cached GET /config
//   GET /v1/forward-auth            ≥ 0.85× cached GET /config
//   GET /config, key cache off      ≥ 0.5×  cached (100k keys in PostgreSQL, each request another key)
//   1M keys                         ≤ 1.1×  the cost (1/req/s) of 1k keys, cache on and off
//   Keyward verify / Better Auth    ≥ 40    (peers/better-auth, its api-key verify)
//   framework bounds                what bare Nest + Fastify's own POST (peers/nest-fastify.js) allows
//                                   the two rows above, and verify measured on top of it
//   two instances                   ≥ 1.8×  one (see measurePair for what 2 cores allow)
//
// Load: wrk, one thread, 50 connections, on core 1; every server on core 0 (BENCH_PIN=0: no
// pinning). Targets take turns: BENCH_ROUNDS rounds (5) of BENCH_SECONDS (8) each, the order
// rotated every round, and each ratio is the median of its per-round ratios. The run fails when
// a target is missed or when any request of any measured run was not answered 2xx.
// Databases: fresh ones on the local PostgreSQL (BENCH_POSTGRES_URL), dropped at the end.
const { execFileSync } = require('node:child_process');
const { existsSync, mkdtempSync, writeFileSync } = require('node:fs');
const { loadavg, tmpdir } = require('node:os');
const { join } = require('node:path');
const lib = require('./lib');
const { ensureBuilt } = require('../scripts/build-if-stale');

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_SECONDS = Math.min(3, SECONDS);
const CONNECTIONS = 50;
const BETTER_AUTH_DIR = join(__dirname, 'peers', 'better-auth');
const admin = { 'x-admin-token': lib.ADMIN_TOKEN };
/** The cold targets present a different key on every request, the next of this many. */
const ROTATED_KEYS = 20_000;
/** 1k ÷ 1M: the same number of different keys presented to both, so only the table's size differs. */
const SCALE_KEYS = 990;
const rotated = (keys, count = ROTATED_KEYS) => ({ header: 'x-api-key', values: keys.slice(0, count) });

/** Better Auth's pinned install (package-lock.json), made on the first run. */
function ensureBetterAuth() {
  if (existsSync(join(BETTER_AUTH_DIR, 'node_modules', 'better-auth', 'package.json'))) return;
  console.log(`installing the pinned Better Auth into ${BETTER_AUTH_DIR} (npm ci --prefix)`);
  execFileSync('npm', ['ci', '--prefix', BETTER_AUTH_DIR, '--no-audit', '--no-fund'], { stdio: 'inherit' });
}

/**
 * The tenant and its real keys, made through the API: a reader for /config and forward-auth,
 * a service key that may call /v1/keys/verify. Every key's rate limit is counted on every
 * request, set high enough never to refuse one.
 */
async function makeKeys(server, name) {
  const tenant = await lib.api(server.url, 'POST', '/admin/tenants', { name }, admin);
  const key = (scopes) =>
    lib
      .api(
        server.url,
        'POST',
        '/admin/api-keys',
        { tenantId: tenant.id, name: scopes.join(' '), scopes, rateLimit: { limit: 1_000_000, windowSeconds: 1 } },
        admin,
      )
      .then((created) => created.apiKey);
  return { tenantId: tenant.id, reader: await key(['config:read']), verifier: await key(['keys:verify']) };
}

/**
 * Fills the tenant up to `total` keys. `real` keys are made like the service makes them (the
 * format, the checksum, the HMAC with the pepper) and returned, so that they can be presented;
 * the rest get hashes no presented key can match.
 */
async function growKeys(url, tenantId, total, real = 0) {
  const started = Date.now();
  const { KeyFormat } = require('../dist/src/api-keys/key-format');
  const format = new KeyFormat('kw', 'bench-key-pepper-0123456789abcdefghijklmnop');
  const presented = Array.from({ length: real }, () => format.generate());
  await lib.withClient(url, async (client) => {
    const [{ count }] = (await client.query('SELECT count(*)::int AS count FROM api_keys')).rows;
    for (let i = 0; i < presented.length; i += 10_000) {
      const batch = presented.slice(i, i + 10_000);
      await client.query(
        `INSERT INTO api_keys (tenant_id, name, key_hash, hint, scopes, rate_limit)
         SELECT $1, 'bulk', h, 'kw_real', '{config:read}', '{"limit":1000000,"windowSeconds":1}' FROM unnest($2::text[]) h`,
        [tenantId, batch.map((key) => format.hash(key))],
      );
    }
    const fake = total - count - presented.length;
    if (fake > 0)
      await client.query(
        `INSERT INTO api_keys (tenant_id, name, key_hash, hint, scopes)
         SELECT $1, 'bulk', md5(i::text) || md5((i*7)::text), 'kw_bulk', '{config:read}' FROM generate_series(1, $2::int) i`,
        [tenantId, fake],
      );
    // ANALYZE for the planner; VACUUM and CHECKPOINT now, so that autovacuum and the
    // checkpointer do not work through the new rows during the measurements.
    await client.query('VACUUM (ANALYZE) api_keys');
    await client.query('CHECKPOINT').catch(() => undefined);
  });
  console.log(`  ${total} keys in ${url.split('/').pop()} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return presented;
}

/** Keyward's own count of answers that were not 2xx (any route but /metrics), from /metrics. */
async function keywardNon2xx(server) {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${lib.METRICS_TOKEN}` } });
  if (!res.ok) throw new Error(`GET /metrics → ${res.status}`);
  let count = 0;
  for (const [, labels, value] of (await res.text()).matchAll(/^keyward_http_requests_total\{([^}]*)\} (\S+)$/gm)) {
    if (!/route="\/metrics"/.test(labels) && !/status="2\d\d"/.test(labels)) count += Number(value);
  }
  return count;
}

/** A target: what wrk sends to which server. */
const target = (name, server, path, options = {}) => ({ name, server, path, ...options });

async function runOnce(t, seconds) {
  const serverNon2xxBefore = t.server.keyward ? await keywardNon2xx(t.server) : 0;
  const before = lib.cpuMicros(t.server.child);
  const result = await lib.wrk({
    url: t.server.url + t.path,
    seconds,
    connections: CONNECTIONS,
    headers: t.headers,
    body: t.body,
    rotate: t.rotate,
  });
  const cpu = (lib.cpuMicros(t.server.child) - before) / Math.max(1, result.requests);
  // Status < 400 but not 2xx (wrk counts those as fine): Keyward's metrics know every answer.
  const serverNon2xx = t.server.keyward ? (await keywardNon2xx(t.server)) - serverNon2xxBefore : 0;
  return { ...result, cpu, non2xx: Math.max(result.non2xx, serverNon2xx) };
}

/**
 * Every target in `targets` once per round, the order rotated by one each round (so that no
 * target always follows the same one), after a warm-up that is not counted.
 */
async function measure(targets, label) {
  console.log(`${label}: warming up ${targets.length} targets`);
  for (const t of targets) {
    const res = await fetch(t.server.url + t.path, {
      method: t.body ? 'POST' : 'GET',
      headers: { ...(t.body ? { 'content-type': 'application/json' } : {}), ...t.headers },
      body: t.body && JSON.stringify(t.body),
    });
    if (res.status < 200 || res.status > 299)
      throw new Error(`${t.name}: ${t.path} answered ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    await lib.wrk({
      url: t.server.url + t.path,
      seconds: WARMUP_SECONDS,
      connections: CONNECTIONS,
      headers: t.headers,
      body: t.body,
      rotate: t.rotate,
    });
  }
  const results = new Map(targets.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]);
    for (const t of order) results.get(t.name).push(await runOnce(t, SECONDS));
    console.log(
      `${label} round ${round + 1}/${ROUNDS}: ${order.map((t) => `${t.name} ${Math.round(results.get(t.name)[round].rps)}`).join(', ')} (load ${loadavg()[0].toFixed(1)})`,
    );
  }
  return results;
}

const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length;
const sum = (runs, field) => runs.reduce((total, run) => total + run[field], 0);

/** Two instances on one PostgreSQL (see the comment in the table row). */
async function measurePair(single, extra, headers) {
  const one = [];
  const pair = [];
  await lib.wrk({ url: `${extra.url}/config`, seconds: WARMUP_SECONDS, connections: CONNECTIONS, headers });
  for (let round = 0; round < ROUNDS; round++) {
    one.push(await runOnce(target('one', single, '/config', { headers }), SECONDS));
    // Both instances at once, each with its own wrk (not pinned: the cores are shared by all four).
    const before = [lib.cpuMicros(single.child), lib.cpuMicros(extra.child)];
    const parsed = await Promise.all(
      [single, extra].map((server) =>
        lib.wrk({ url: `${server.url}/config`, seconds: SECONDS, connections: CONNECTIONS / 2, headers, core: null }),
      ),
    );
    const cpu = [single, extra].map((server, i) => (lib.cpuMicros(server.child) - before[i]) / parsed[i].requests);
    pair.push({
      rps: parsed[0].rps + parsed[1].rps,
      cpu,
      non2xx: parsed[0].non2xx + parsed[1].non2xx,
      errors: parsed[0].errors + parsed[1].errors,
      requests: parsed[0].requests + parsed[1].requests,
    });
  }
  return { one, pair };
}

/** The in-process figures (cold path steps, memory, queries and Redis calls per verification). */
function verifyCosts(databaseUrl, keys) {
  const file = join(mkdtempSync(join(tmpdir(), 'keyward-keys-')), 'keys.json');
  writeFileSync(file, JSON.stringify(keys));
  const out = execFileSync(process.execPath, ['--expose-gc', join(__dirname, 'verify-costs.js'), file], {
    env: { ...process.env, BENCH_DATABASE_URL: databaseUrl },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').pop());
}

async function main() {
  ensureBuilt({ quiet: true });
  lib.ensureWrk();
  ensureBetterAuth();
  const cores = lib.pinLoadGenerator();
  const load = [loadavg()[0]];
  const databases = [];
  const servers = [];
  const start = async (make) => {
    const server = await make();
    servers.push(server);
    return server;
  };
  const cleanUp = async () => {
    await Promise.allSettled(servers.splice(0).map((server) => server.stop()));
    await Promise.allSettled(databases.splice(0).map((database) => database.drop()));
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    const db = async (suffix) => {
      const database = await lib.createDatabase(`keyward_bench_${process.pid}_${suffix}`);
      databases.push(database);
      return database;
    };
    const [small, mid, large, peer] = await Promise.all([db('1k'), db('100k'), db('1m'), db('better_auth')]);
    const keyward = (database, env = {}, core = 0) =>
      start(async () => ({
        keyward: true,
        ...(await lib.startServer({ DATABASE_URL: database.url, ...env }, { core })),
      }));

    console.log('starting Keyward on three databases (1k, 100k, 1M keys), migrating them');
    const [midOn, smallOn, largeOn] = [await keyward(mid), await keyward(small), await keyward(large)];
    const keys = await makeKeys(midOn, 'Bench 100k');
    const smallKeys = await makeKeys(smallOn, 'Bench 1k');
    const largeKeys = await makeKeys(largeOn, 'Bench 1M');
    console.log('filling the key tables');
    const realKeys = await growKeys(mid.url, keys.tenantId, 100_000, 100_000 - 2);
    const smallReal = await growKeys(small.url, smallKeys.tenantId, 1_000, SCALE_KEYS);
    const largeReal = await growKeys(large.url, largeKeys.tenantId, 1_000_000, SCALE_KEYS);
    const off = { KEY_CACHE_TTL_SECONDS: '0' };
    console.log('starting the cache-off instances, the peers and Better Auth');
    const [midOff, smallOff, largeOff] = await Promise.all([
      keyward(mid, off),
      keyward(small, off),
      keyward(large, off),
    ]);
    const nodeHttp = await start(() => lib.startScript(join(__dirname, 'peers', 'node-http.js')));
    const nest = await start(() => lib.startScript(join(__dirname, 'peers', 'nest-fastify.js')));
    // A process of its own for the POST, so that the hello route's process serves that route only.
    const nestPost = await start(() => lib.startScript(join(__dirname, 'peers', 'nest-fastify.js')));
    const betterAuth = await start(() =>
      lib.startScript(join(BETTER_AUTH_DIR, 'server.mjs'), { DATABASE_URL: peer.url }),
    );

    const reader = { 'x-api-key': keys.reader };
    const main = await measure(
      [
        target('node:http', nodeHttp, '/'),
        target('Nest+Fastify hello', nest, '/hello'),
        // The same request as Keyward's verify (headers and body), to a route that does none of its work.
        target('Nest+Fastify POST', nestPost, '/verify', {
          headers: { 'x-api-key': keys.verifier },
          body: { key: keys.reader },
        }),
        target('/health', midOn, '/health'),
        target('/config cached', midOn, '/config', { headers: reader }),
        target('POST /v1/keys/verify', midOn, '/v1/keys/verify', {
          headers: { 'x-api-key': keys.verifier },
          body: { key: keys.reader },
        }),
        target('/v1/forward-auth', midOn, '/v1/forward-auth', { headers: reader }),
        target('/config cache off', midOff, '/config', { headers: reader, rotate: rotated(realKeys) }),
        target('Better Auth verify', betterAuth, '/', { body: { key: betterAuth.info.key } }),
      ],
      'main (100k keys)',
    );
    load.push(loadavg()[0]);
    const scale = await measure(
      [
        target('1k cached', smallOn, '/config', { headers: { 'x-api-key': smallKeys.reader } }),
        target('1M cached', largeOn, '/config', { headers: { 'x-api-key': largeKeys.reader } }),
        target('1k cache off', smallOff, '/config', {
          headers: { 'x-api-key': smallKeys.reader },
          rotate: rotated(smallReal, SCALE_KEYS),
        }),
        target('1M cache off', largeOff, '/config', {
          headers: { 'x-api-key': largeKeys.reader },
          rotate: rotated(largeReal, SCALE_KEYS),
        }),
      ],
      'scale (1k vs 1M keys)',
    );
    load.push(loadavg()[0]);
    // Only the instances the pair measurement needs stay up from here.
    await Promise.all(
      [smallOn, smallOff, largeOn, largeOff, midOff, nodeHttp, nest, nestPost, betterAuth].map((server) => {
        servers.splice(servers.indexOf(server), 1);
        return server.stop();
      }),
    );
    console.log('two instances on the 100k database');
    const second = await keyward(mid, {}, 1);
    const pair = await measurePair(midOn, second, reader);
    load.push(loadavg()[0]);
    console.log('in-process costs of a verification (cold path steps, memory, queries, Redis calls)');
    const costs = verifyCosts(mid.url, realKeys);

    // ---- the table
    const median = lib.median;
    const ratio = (a, b, results = main) => results.get(a).map((run, i) => run.rps / results.get(b)[i].rps);
    const costRatio = (a, b) => scale.get(a).map((run, i) => scale.get(b)[i].rps / run.rps);
    const rps = (name, results = main) => Math.round(mean(results.get(name).map((run) => run.rps)));
    const cpu = (name, results = main) => median(results.get(name).map((run) => run.cpu)).toFixed(1);
    const rows = [];
    const row = (what, values, threshold, atLeast, sides, note = '') => {
      const measured = median(values);
      const pass = atLeast ? measured >= threshold : measured <= threshold;
      rows.push({
        target: what,
        measured: `${measured.toFixed(measured >= 10 ? 1 : 3)} (${values.map((v) => v.toFixed(v >= 10 ? 0 : 2)).join(' ')})`,
        threshold: `${atLeast ? '≥' : '≤'} ${threshold}`,
        sides,
        result: pass ? 'PASS' : 'FAIL',
        note,
      });
    };
    const sides = (a, b, results = main) =>
      `${a} ${rps(a, results)} req/s (${cpu(a, results)} µs CPU) / ${b} ${rps(b, results)} req/s (${cpu(b, results)} µs CPU)`;
    row(
      '/health ÷ bare Nest+Fastify',
      ratio('/health', 'Nest+Fastify hello'),
      0.85,
      true,
      sides('/health', 'Nest+Fastify hello'),
    );
    row(
      'cached /config ÷ bare node:http',
      ratio('/config cached', 'node:http'),
      0.5,
      true,
      sides('/config cached', 'node:http'),
    );
    row(
      'POST /v1/keys/verify ÷ cached /config',
      ratio('POST /v1/keys/verify', '/config cached'),
      0.85,
      true,
      sides('POST /v1/keys/verify', '/config cached'),
      'two keys checked per request (caller, then the one in the body)',
    );
    row(
      'forward-auth ÷ cached /config',
      ratio('/v1/forward-auth', '/config cached'),
      0.85,
      true,
      sides('/v1/forward-auth', '/config cached'),
    );
    row(
      'cold /config ÷ cached (100k keys)',
      ratio('/config cache off', '/config cached'),
      0.5,
      true,
      sides('/config cache off', '/config cached'),
      `KEY_CACHE_TTL_SECONDS=0: each request presents the next of ${ROTATED_KEYS} keys and reads it from PostgreSQL (the misses of one event-loop turn share a query)`,
    );
    row(
      '1M-key cost ÷ 1k-key cost, cached',
      costRatio('1M cached', '1k cached'),
      1.1,
      false,
      sides('1M cached', '1k cached', scale),
      'cost = 1 / req/s',
    );
    row(
      '1M-key cost ÷ 1k-key cost, cache off',
      costRatio('1M cache off', '1k cache off'),
      1.1,
      false,
      sides('1M cache off', '1k cache off', scale),
      `cost = 1 / req/s; each request presents the next of the same ${SCALE_KEYS} keys on both`,
    );
    row(
      'Keyward verify ÷ Better Auth verify',
      ratio('POST /v1/keys/verify', 'Better Auth verify'),
      40,
      true,
      sides('POST /v1/keys/verify', 'Better Auth verify'),
      'better-auth 1.7.5 + @better-auth/api-key 1.7.5 on its own node:http handler, PostgreSQL',
    );
    // What the framework itself allows: a POST of verify's shape on bare Nest + Fastify against its
    // GET, and against Better Auth. No route of ours can beat these, so they bound the two rows
    // above, and the rows after them measure verify against the framework instead.
    const bound = (what, values, sidesText, note) =>
      rows.push({
        target: what,
        measured: `${median(values).toFixed(median(values) >= 10 ? 1 : 3)} (${values.map((v) => v.toFixed(v >= 10 ? 0 : 2)).join(' ')})`,
        threshold: 'bound',
        sides: sidesText,
        result: 'INFO',
        note,
      });
    bound(
      'framework bound: bare Nest POST ÷ bare Nest GET',
      ratio('Nest+Fastify POST', 'Nest+Fastify hello'),
      sides('Nest+Fastify POST', 'Nest+Fastify hello'),
      "the most any POST ÷ GET can be on this stack, so the ceiling of 'verify ÷ cached /config'",
    );
    bound(
      'framework bound: bare Nest POST ÷ Better Auth verify',
      ratio('Nest+Fastify POST', 'Better Auth verify'),
      sides('Nest+Fastify POST', 'Better Auth verify'),
      "the most any verify on Nest + Fastify can be × Better Auth, so the ceiling of 'Keyward verify ÷ Better Auth'",
    );
    // Verify's cost on top of the framework's POST, against /config's on top of the framework's GET.
    const onTop = (a, peerA, b, peerB) =>
      main.get(a).map((run, i) => run.rps / main.get(peerA)[i].rps / (main.get(b)[i].rps / main.get(peerB)[i].rps));
    row(
      'verify ÷ bare Nest POST, against cached /config ÷ bare Nest GET',
      onTop('POST /v1/keys/verify', 'Nest+Fastify POST', '/config cached', 'Nest+Fastify hello'),
      0.85,
      true,
      sides('POST /v1/keys/verify', 'Nest+Fastify POST'),
      "the 'verify ≥ 0.85× cached /config' target measured on top of the framework: verify adds no more to the framework's POST than /config adds to its GET",
    );
    const oneCpu = median(pair.one.map((run) => run.cpu));
    const pairCpu = [0, 1].map((i) => median(pair.pair.map((run) => run.cpu[i])));
    // The slower of the two sets the pair's pace: a low figure for one of them (its share of the
    // load split unevenly, CPU counted in 10 ms ticks) must not lift the ratio.
    const onPaper = pair.one.map((run, i) => (2 * run.cpu) / Math.max(...pair.pair[i].cpu));
    const measuredPair = pair.pair.map((run, i) => run.rps / pair.one[i].rps);
    row(
      'two instances ÷ one (on paper, from CPU µs per request)',
      onPaper,
      1.8,
      true,
      `one ${Math.round(mean(pair.one.map((r) => r.rps)))} req/s (${oneCpu.toFixed(1)} µs CPU); pair ${Math.round(mean(pair.pair.map((r) => r.rps)))} req/s (${pairCpu.map((c) => c.toFixed(1)).join(' + ')} µs CPU)`,
      `2 cores hold both instances and the load generator, so the pair's req/s cannot show 2×: measured pair ÷ one = ${median(measuredPair).toFixed(2)}. ` +
        `On paper each instance on a core of its own serves 1/(its µs per request) with no shared work (0 database queries and 0 Redis calls per cached verification), so pair ÷ one = 2 × c1 / max(c2a, c2b)`,
    );

    // Every request of every measured run answered 2xx.
    const allRuns = [...[...main.values(), ...scale.values()].flat(), ...pair.one, ...pair.pair];
    const non2xx = sum(allRuns, 'non2xx');
    const errors = sum(allRuns, 'errors');
    const requests = sum(allRuns, 'requests');
    rows.push({
      target: 'every request of every measured run answered 2xx',
      measured: `${requests} requests, ${non2xx} not 2xx, ${errors} socket errors`,
      threshold: '0 and 0',
      sides: '',
      result: non2xx === 0 && errors === 0 ? 'PASS' : 'FAIL',
      note: '',
    });

    console.log('\nCost of one verification, in-process on the 100k-key database (median µs per call):');
    console.table(costs.steps);
    console.log(
      `database queries per verification: cached ${costs.queries.cached}, cold ${costs.queries.cold}; ` +
        `Redis commands per verification (with REDIS_URL): cached ${costs.redis.cached}, cold ${costs.redis.cold} (none without REDIS_URL); ` +
        `heap per 100k cached keys: ${costs.memory.per100kMiB.toFixed(1)} MiB (${Math.round(costs.memory.bytesPerKey)} bytes a key)`,
    );
    console.log(
      `\n${CONNECTIONS} connections (wrk, 1 thread), ${ROUNDS} rounds of ${SECONDS} s per target in rotated order after ${WARMUP_SECONDS} s warm-up, ${cores}, PostgreSQL (fresh databases). ` +
        `Load average (1 min) at start, after each phase: ${load.map((l) => l.toFixed(1)).join(', ')}. Ratios: median of the per-round ratios (each round in brackets).`,
    );
    console.table(rows);
    process.exitCode = rows.some((r) => r.result === 'FAIL') ? 1 : 0;
  } finally {
    await cleanUp();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
