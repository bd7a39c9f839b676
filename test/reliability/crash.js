// Check 13: kill -9 the service during write load, then start it again on the same data,
// for the embedded database (DATA_DIR) and for PostgreSQL. Pass: it opens cleanly (the lock
// file the killed process left behind does not block it) and every acknowledged write is there.
const { randomUUID } = require('node:crypto');
const { mkdtempSync, rmSync, existsSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { request, runCheck, seedTenant, sleep, startPostgres, startService, summary } = require('./lib');

const WRITERS = 4;
const LOAD_MS = 3_000;

async function crashOnce(name, env, findings) {
  const first = await startService(env);
  const { url } = first;
  const { key } = await seedTenant(url);
  const asManager = { 'x-api-key': key };
  const acknowledged = [];
  let running = true;
  let inFlightAtKill = 0;
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; running; i++) {
      const idempotencyKey = randomUUID();
      const res = await request(url, 'POST', '/v1/api-keys', {
        body: { name: `crash-${w}-${i}` },
        headers: { ...asManager, 'idempotency-key': idempotencyKey },
        timeoutMs: 10_000,
      });
      if (res.status === 201) acknowledged.push(res.body.id);
      else if (!running || res.status === 0) inFlightAtKill++;
      else findings.push(`${name}: a write got ${res.status} before the crash`);
    }
  });
  await sleep(LOAD_MS);
  await first.stop('SIGKILL');
  running = false;
  await Promise.all(writers);
  const lockLeft = env.DATA_DIR ? existsSync(join(env.DATA_DIR, 'pglite.lock')) : false;

  const started = Date.now();
  let second;
  try {
    second = await startService(env);
  } catch (error) {
    findings.push(`${name}: the service did not start again after kill -9: ${String(error).slice(0, 400)}`);
    return { acknowledged: acknowledged.length, missing: 'n/a', lockLeft };
  }
  const restart = (Date.now() - started) / 1000;
  let missing = 0;
  for (const id of acknowledged) {
    const res = await request(second.url, 'GET', `/v1/api-keys/${id}`, { headers: asManager });
    if (res.status !== 200) missing++;
  }
  if (missing) findings.push(`${name}: ${missing} of ${acknowledged.length} acknowledged keys missing after the crash`);
  if (!acknowledged.length)
    findings.push(`${name}: no write was acknowledged before the crash: the check proved nothing`);
  const after = await request(second.url, 'POST', '/v1/api-keys', {
    body: { name: 'after-crash' },
    headers: asManager,
  });
  if (after.status !== 201) findings.push(`${name}: a write after the restart got ${after.status}`);
  const unhandled = second
    .output()
    .split('\n')
    .filter((line) => line.includes('unhandled error'));
  if (unhandled.length)
    findings.push(`${name}: ${unhandled.length} unhandled errors after the restart: ${unhandled[0].slice(0, 400)}`);
  await second.stop();
  return { acknowledged: acknowledged.length, missing, inFlightAtKill, lockLeft, restart };
}

runCheck(async (cleanup) => {
  const findings = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-rel-crash-'));
  cleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  const embedded = await crashOnce('embedded', { DATA_DIR: dataDir }, findings);

  const pg = await startPostgres();
  cleanup(() => pg.stop());
  const postgres = await crashOnce('postgres', { DATABASE_URL: pg.url }, findings);

  return summary(
    '13 crash',
    {
      embedded_acknowledged: embedded.acknowledged,
      embedded_missing: embedded.missing,
      embedded_failed_at_kill: embedded.inFlightAtKill,
      embedded_stale_lock: embedded.lockLeft,
      embedded_restart_s: embedded.restart,
      pg_acknowledged: postgres.acknowledged,
      pg_missing: postgres.missing,
      pg_failed_at_kill: postgres.inFlightAtKill,
      pg_restart_s: postgres.restart,
    },
    findings,
  );
});
