// Check 12 (not in CI): mixed traffic at half the measured capacity for SOAK_SECONDS (600).
// Pass: RSS grows < 10 % from the end of warm-up to the end, the database connection count
// stays flat, and no request gets a 5xx.
const { readFileSync } = require('node:fs');
const autocannon = require('autocannon');
const { runCheck, seedTenant, sleep, startPostgres, startService, summary } = require('./lib');

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CONNECTIONS = 10;

const cannon = (options) =>
  new Promise((resolve, reject) =>
    autocannon({ connections: CONNECTIONS, timeout: 10, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    ),
  );
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

runCheck(async (cleanup) => {
  const pg = await startPostgres();
  cleanup(() => pg.stop());
  const service = await startService({ DATABASE_URL: pg.url });
  cleanup(() => service.stop());
  const { url } = service;
  const { key } = await seedTenant(url);
  const headers = { 'content-type': 'application/json', 'x-api-key': key };
  let n = 0;
  // Reads dominate, as in real use: the config document, key lists, key checks, plus writes.
  const requests = [
    { method: 'GET', path: '/config' },
    { method: 'GET', path: '/v1/api-keys?limit=10' },
    { method: 'GET', path: '/auth/me' },
    { method: 'GET', path: '/config' },
    {
      method: 'PUT',
      path: '/v1/config/entries/soak',
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ value: n++ }) }),
    },
    {
      method: 'POST',
      path: '/v1/api-keys',
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: `soak-${n++}` }) }),
    },
  ];

  const capacity = await cannon({ url, headers, requests, duration: 5 });
  const rate = Math.max(1, Math.floor(capacity.requests.average / 2));

  const samples = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const [{ connections }] = await pg.query(
        "SELECT count(*)::int AS connections FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> 'psql'",
      );
      samples.push({ at: Date.now(), rss: rssMb(service.child.pid), connections: connections - 1 });
      await sleep(Math.min(10_000, Math.max(1_000, (SOAK_SECONDS * 1000) / 60)));
    }
  })();
  const result = await cannon({ url, headers, requests, duration: SOAK_SECONDS, overallRate: rate });
  sampling = false;
  await sampler;

  const findings = [];
  const warm = samples[Math.max(0, Math.floor(samples.length / 10))];
  const end = samples[samples.length - 1];
  const growth = ((end.rss - warm.rss) / warm.rss) * 100;
  if (growth >= 10)
    findings.push(`RSS grew ${growth.toFixed(1)} % (${warm.rss.toFixed(0)} → ${end.rss.toFixed(0)} MB)`);
  const half = Math.floor(samples.length / 2);
  const firstMax = Math.max(...samples.slice(0, half || 1).map((s) => s.connections));
  const secondMax = Math.max(...samples.slice(half).map((s) => s.connections));
  if (secondMax > firstMax)
    findings.push(`database connections grew: ${firstMax} in the first half, ${secondMax} in the second`);
  const codes = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]),
  );
  const serverErrors = Object.entries(codes)
    .filter(([code]) => Number(code) >= 500)
    .reduce((sum, [, count]) => sum + count, 0);
  if (serverErrors) findings.push(`${serverErrors} answers were 5xx: ${JSON.stringify(codes)}`);
  if (result.errors || result.timeouts) findings.push(`${result.errors} errors, ${result.timeouts} timeouts`);

  return summary(
    '12 soak',
    {
      seconds: SOAK_SECONDS,
      capacity_req_s: Math.round(capacity.requests.average),
      rate_req_s: rate,
      achieved_req_s: Math.round(result.requests.average),
      requests: result.requests.total,
      p99_ms: result.latency.p99,
      rss_warm_mb: warm.rss,
      rss_end_mb: end.rss,
      rss_growth_pct: growth,
      db_connections: `${Math.min(...samples.map((s) => s.connections))}-${Math.max(...samples.map((s) => s.connections))}`,
      '5xx': serverErrors,
      codes: JSON.stringify(codes),
    },
    findings,
  );
});
