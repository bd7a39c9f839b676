// Check 9: PostgreSQL restarts (pg_ctl restart -m fast) under write and read load.
// Pass: every acknowledged write is present exactly once; the outage answers 503 (never 500);
// no key that is not cached is accepted while the database is away and a revoked key stays
// refused; the service recovers within 10 s of PostgreSQL accepting again, with the same PID.
const { randomUUID } = require('node:crypto');
const { request, must, runCheck, seedTenant, sleep, startPostgres, startService, summary } = require('./lib');

const WRITERS = 4;
const READERS = 2;

runCheck(async (cleanup) => {
  const pg = await startPostgres();
  cleanup(() => pg.stop());
  const service = await startService({ DATABASE_URL: pg.url });
  cleanup(() => service.stop());
  const pid = service.child.pid;
  const { url } = service;
  const { tenant, key } = await seedTenant(url);
  const asManager = { 'x-api-key': key };

  // Keys to try during the outage: created but never used, so no instance has them cached.
  const untouched = [];
  for (let i = 0; i < 5; i++)
    untouched.push(
      (await must(url, 'POST', '/v1/api-keys', { body: { name: `untouched-${i}` }, headers: asManager })).apiKey,
    );
  const revoked = await must(url, 'POST', '/v1/api-keys', { body: { name: 'revoked' }, headers: asManager });
  await must(url, 'GET', '/auth/me', { headers: { 'x-api-key': revoked.apiKey } });
  await must(url, 'DELETE', `/v1/api-keys/${revoked.id}`, { headers: asManager });

  const findings = [];
  const statuses = {};
  const acknowledged = { keys: [], config: [] };
  let gaveUp = 0;
  let running = true;
  const note = (res, what) => {
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status >= 500 && res.status !== 503)
      findings.push(`${what} answered ${res.status} ${JSON.stringify(res.body)}`);
    if (res.status === 503 && res.body?.code !== 'DATABASE_UNAVAILABLE' && res.body?.code !== 'AUTH_BUSY')
      findings.push(`${what} 503 with code ${res.body?.code}`);
  };
  /** Retries with the same Idempotency-Key until acknowledged (or 60 s pass). */
  async function write(method, path, body, ok) {
    const idempotencyKey = randomUUID();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const res = await request(url, method, path, {
        body,
        headers: { ...asManager, 'idempotency-key': idempotencyKey },
        timeoutMs: 10_000,
      });
      note(res, `${method} ${path}`);
      if (res.status === ok) return res.body;
      if (res.status !== 0 && res.status < 500 && res.status !== 409)
        findings.push(`${method} ${path} answered ${res.status} ${JSON.stringify(res.body)}`);
      await sleep(200);
    }
    gaveUp++;
    return undefined;
  }
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; running; i++) {
      if (i % 2 === 0) {
        const name = `w${w}-${randomUUID()}`;
        const created = await write('POST', '/v1/api-keys', { name }, 201);
        if (created) acknowledged.keys.push({ id: created.id, name });
      } else {
        const entry = `c${w}_${i}`;
        const done = await write('PUT', `/v1/config/entries/${entry}`, { value: i }, 200);
        if (done) acknowledged.config.push({ key: entry, value: i });
      }
    }
  });
  const readers = Array.from({ length: READERS }, async () => {
    while (running) {
      note(await request(url, 'GET', '/config', { headers: asManager, timeoutMs: 10_000 }), 'GET /config');
      await sleep(20);
    }
  });

  // Probes every 100 ms: /ready tells whether the service sees the database; the revoked key
  // must never pass; an untouched key is tried while /ready says the database is away.
  let outageProbes = 0;
  const outageAnswers = {};
  let revokedAccepted = 0;
  const readiness = [];
  const prober = (async () => {
    while (running) {
      const ready = await request(url, 'GET', '/ready', { timeoutMs: 10_000 });
      readiness.push(ready);
      if (ready.status !== 200 && ready.status !== 503) findings.push(`/ready answered ${ready.status}`);
      const rev = await request(url, 'GET', '/auth/me', { headers: { 'x-api-key': revoked.apiKey } });
      if (rev.status === 200) revokedAccepted++;
      if (ready.status === 503 && outageProbes < untouched.length) {
        const res = await request(url, 'GET', '/auth/me', {
          headers: { 'x-api-key': untouched[outageProbes++] },
          timeoutMs: 10_000,
        });
        // Counts only when the database was still away after the probe (it may come back meanwhile).
        const after = await request(url, 'GET', '/ready', { timeoutMs: 10_000 });
        if (after.status === 503) {
          outageAnswers[res.status] = (outageAnswers[res.status] ?? 0) + 1;
          if (res.status === 200) findings.push('an uncached key was accepted while the database was away');
          else if (res.status !== 503)
            findings.push(`an uncached key during the outage got ${res.status} (503 expected)`);
        }
      }
      await sleep(100);
    }
  })();

  await sleep(3_000);
  const restartAt = Date.now();
  await pg.restart();
  const backAt = Date.now();
  // Recovery: first /ready 200 after PostgreSQL accepts connections again.
  let recoveredAt;
  while (Date.now() - backAt < 15_000) {
    if ((await request(url, 'GET', '/ready', { timeoutMs: 5_000 })).status === 200) {
      recoveredAt = Date.now();
      break;
    }
    await sleep(50);
  }
  await sleep(3_000);
  running = false;
  await Promise.all([...writers, ...readers, prober]);

  const recovery = recoveredAt === undefined ? Infinity : (recoveredAt - backAt) / 1000;
  if (recovery > 10) findings.push(`no recovery within 10 s of PostgreSQL coming back (${recovery} s)`);
  const down = readiness.filter((r) => r.status === 503);
  const outage = down.length ? (Math.max(...down.map((r) => r.at)) - Math.min(...down.map((r) => r.at))) / 1000 : 0;
  if (!service.alive() || service.child.pid !== pid) findings.push('the service process did not survive');
  if (revokedAccepted) findings.push(`the revoked key was accepted ${revokedAccepted} times`);
  // A restart can be shorter than the /ready probe's interval; the writers and readers see it too.
  if (!down.length && !statuses[503])
    findings.push('the outage was not observed (no 503 from /ready or any request): the check proved nothing');

  // Every acknowledged write, exactly once.
  let lost = 0;
  let duplicated = 0;
  for (const { id, name } of acknowledged.keys) {
    const [{ n }] = await pg.query('SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1 AND name = $2', [
      tenant.id,
      name,
    ]);
    const [{ m }] = await pg.query('SELECT count(*)::int AS m FROM api_keys WHERE id = $1', [id]);
    if (m === 0) lost++;
    if (n > 1) duplicated++;
  }
  for (const { key: entry, value } of acknowledged.config) {
    const rows = await pg.query('SELECT value FROM config_entries WHERE tenant_id = $1 AND key = $2', [
      tenant.id,
      entry,
    ]);
    if (rows.length !== 1 || rows[0].value !== value) lost++;
  }
  if (lost) findings.push(`${lost} acknowledged writes missing`);
  if (duplicated) findings.push(`${duplicated} acknowledged keys created more than once`);
  const unhandled = service
    .output()
    .split('\n')
    .find((line) => line.includes('unhandled error'));
  if (unhandled)
    findings.push(
      `the service logged an unhandled error: ${unhandled.slice(0, Number(process.env.RELIABILITY_LOG_CHARS ?? 600))}`,
    );

  return summary(
    '9 db-restart',
    {
      acknowledged: acknowledged.keys.length + acknowledged.config.length,
      lost,
      duplicated,
      gaveUp,
      outage_s: outage,
      pg_restart_s: (backAt - restartAt) / 1000,
      recovery_s: recovery,
      503: statuses[503] ?? 0,
      500: Object.entries(statuses)
        .filter(([s]) => Number(s) >= 500 && Number(s) !== 503)
        .reduce((a, [, n]) => a + n, 0),
      409: statuses[409] ?? 0,
      uncachedKeyDuringOutage: JSON.stringify(outageAnswers),
      revokedAccepted,
      samePid: service.alive() && service.child.pid === pid,
    },
    findings,
  );
});
