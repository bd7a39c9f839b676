// Check 10: PostgreSQL hangs (postmaster and its backends stopped with SIGSTOP) for 10 s under
// load. Pass: every request answers within 5 s, failures are 503 (never 500 or a hang), and
// the pool serves again after SIGCONT.
const { randomUUID } = require('node:crypto');
const { percentile, request, runCheck, seedTenant, sleep, startPostgres, startService, summary } = require('./lib');

const CLIENTS = 12;
const HANG_MS = 10_000;
const LIMIT_MS = 5_000;

runCheck(async (cleanup) => {
  const pg = await startPostgres();
  cleanup(() => pg.stop());
  const service = await startService({ DATABASE_URL: pg.url });
  cleanup(() => service.stop());
  const { url } = service;
  const { key } = await seedTenant(url);
  const asManager = { 'x-api-key': key };

  const findings = [];
  const during = [];
  let running = true;
  let hung = false;
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = 0; running; i++) {
      // Database work on every request: writes, and reads that bypass the config cache.
      const res =
        i % 3 === 0
          ? await request(url, 'POST', '/v1/api-keys', {
              body: { name: `h${c}-${i}` },
              headers: { ...asManager, 'idempotency-key': randomUUID() },
              timeoutMs: 20_000,
            })
          : i % 3 === 1
            ? await request(url, 'PUT', `/v1/config/entries/h${c}`, {
                body: { value: i },
                headers: asManager,
                timeoutMs: 20_000,
              })
            : await request(url, 'GET', '/v1/api-keys?limit=5', { headers: asManager, timeoutMs: 20_000 });
      if (hung) during.push(res);
      if (res.status === 0 || (res.status >= 500 && res.status !== 503))
        findings.push(`${res.status || res.error} answered`);
      if (res.ms > LIMIT_MS) findings.push(`a request took ${Math.round(res.ms)} ms (status ${res.status})`);
    }
  });

  await sleep(2_000);
  const pids = pg.allPids();
  hung = true;
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  await sleep(HANG_MS);
  for (const pid of pids) process.kill(pid, 'SIGCONT');
  hung = false;
  const resumedAt = Date.now();
  let recoveredAt;
  while (Date.now() - resumedAt < 15_000) {
    if ((await request(url, 'GET', '/v1/api-keys?limit=1', { headers: asManager })).status === 200) {
      recoveredAt = Date.now();
      break;
    }
    await sleep(100);
  }
  await sleep(2_000);
  running = false;
  await Promise.all(clients);
  const after = await request(url, 'POST', '/v1/api-keys', { body: { name: 'after' }, headers: asManager });
  if (after.status !== 201) findings.push(`after the hang a write got ${after.status}`);
  if (recoveredAt === undefined) findings.push('the pool did not recover within 15 s of SIGCONT');
  const unhandled = service
    .output()
    .split('\n')
    .filter((line) => line.includes('unhandled error'));
  if (unhandled.length)
    findings.push(
      `the service logged ${unhandled.length} unhandled errors, first: ${unhandled[0].slice(0, Number(process.env.RELIABILITY_LOG_CHARS ?? 600))}`,
    );
  const failed = during.filter((r) => r.status === 503);
  return summary(
    '10 db-hang',
    {
      hang_s: HANG_MS / 1000,
      requestsDuringHang: during.length,
      503: failed.length,
      ok: during.filter((r) => r.status < 300).length,
      p50_ms_during: Math.round(
        percentile(
          during.map((r) => r.ms),
          50,
        ),
      ),
      max_ms_during: Math.round(Math.max(0, ...during.map((r) => r.ms))),
      recovery_s: recoveredAt === undefined ? 'none' : (recoveredAt - resumedAt) / 1000,
    },
    [...new Set(findings)],
  );
});
