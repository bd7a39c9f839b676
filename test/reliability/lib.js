// Shared pieces of the reliability checks: a private PostgreSQL cluster, the built service as a
// child process, an HTTP client that never throws, and the summary line.
const { execFileSync, spawn } = require('node:child_process');
const { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { freePort, startService: startProcess } = require('../support/service-process');

const PG_BIN = '/usr/lib/postgresql/15/bin';
const ADMIN_TOKEN = 'reliability-admin-token-0123456789abcdefghij';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A PostgreSQL 15 cluster of our own in a temp directory (trust auth, 127.0.0.1 only), so the
 * checks can restart and freeze it without touching the machine's shared server.
 */
async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-rel-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  mkdirSync(sockets);
  for (const path of [dir, sockets]) chownSync(path, uid('postgres'), gid('postgres'));
  const port = await freePort();
  const asPostgres = (bin, args, options = {}) =>
    execFileSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args], { stdio: 'pipe', ...options });
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const pgCtl = (...args) => [
    '-u',
    'postgres',
    '--',
    join(PG_BIN, 'pg_ctl'),
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    ...args,
  ];
  execFileSync(
    'runuser',
    pgCtl('-w', '-o', `-p ${port} -k ${sockets} -c listen_addresses=127.0.0.1 -c max_connections=100`, 'start'),
    { stdio: 'pipe' },
  );
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const pg = {
    url,
    port,
    postmasterPid: () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    /** The postmaster and every process it started (backends, checkpointer, ...). */
    allPids: () => {
      const root = pg.postmasterPid();
      const children = execFileSync('pgrep', ['-P', String(root)], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
      return [root, ...children];
    },
    /** `pg_ctl restart -m fast` without blocking the caller; resolves when it accepts connections again. */
    restart: () =>
      new Promise((resolve, reject) => {
        const child = spawn('runuser', pgCtl('-w', '-m', 'fast', 'restart'), { stdio: 'ignore' });
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl restart exited ${code}`))));
      }),
    async query(sql, params = []) {
      const { Client } = require('pg');
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    stop() {
      try {
        for (const pid of pg.allPids()) process.kill(pid, 'SIGCONT');
      } catch {
        /* not running */
      }
      try {
        execFileSync('runuser', pgCtl('-w', '-m', 'immediate', 'stop'), { stdio: 'pipe' });
      } catch {
        /* already stopped */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pg;
}

const uid = (name) => Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }));
const gid = (name) => Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }));

/** Starts dist/src/main.js on a free port (production mode); its output is kept for inspection. */
async function startService(env = {}) {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'keyward-rel-'));
  const service = await startProcess({
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      ADMIN_TOKEN,
      JWT_SECRET: 'reliability-jwt-secret-0123456789abcdefghij',
      KEY_PEPPER: 'reliability-key-pepper-0123456789abcdefghij',
      CONFIG_ENCRYPTION_KEY: 'cd'.repeat(32),
      ...env,
    },
    readyTimeoutMs: 60_000,
  });
  return {
    url: service.url,
    child: service.child,
    dataDir,
    output: service.output,
    alive: service.alive,
    stop: service.stop,
  };
}

/** One HTTP request; never throws: a network error is status 0. Records the time taken. */
async function request(url, method, path, { body, headers = {}, timeoutMs = 30_000 } = {}) {
  const started = performance.now();
  try {
    const res = await fetch(url + path, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json, ms: performance.now() - started, at: Date.now() };
  } catch (error) {
    return {
      status: 0,
      error: String(error?.cause?.code ?? error?.name ?? error),
      ms: performance.now() - started,
      at: Date.now(),
    };
  }
}

/** Must succeed: setup steps. */
async function must(url, method, path, options) {
  const res = await request(url, method, path, options);
  if (res.status < 200 || res.status >= 300)
    throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body ?? res.error)}`);
  return res.body;
}

const admin = { 'x-admin-token': ADMIN_TOKEN };

/** A tenant and a service key with every scope the checks use. */
async function seedTenant(url, name = `Reliability ${Date.now()}-${Math.random()}`) {
  const tenant = await must(url, 'POST', '/admin/tenants', { body: { name }, headers: admin });
  await must(url, 'PATCH', `/admin/tenants/${tenant.id}`, {
    body: { maxKeysPerUser: 100_000, maxKeysPerTenant: 100_000 },
    headers: admin,
  });
  const key = await must(url, 'POST', '/admin/api-keys', {
    body: {
      tenantId: tenant.id,
      name: 'manager',
      scopes: ['keys:read', 'keys:write', 'config:read', 'config:write'],
      rateLimit: { limit: 100_000, windowSeconds: 1 },
    },
    headers: admin,
  });
  return { tenant, key: key.apiKey, keyId: key.id };
}

function percentile(values, p) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Prints `check <name>: k=v ... → PASS|FAIL (findings)` and returns whether it passed. */
function summary(name, figures, findings) {
  const line = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : v}`)
    .join(' ');
  console.log(`check ${name}: ${line} → ${findings.length ? 'FAIL' : 'PASS'}`);
  for (const finding of findings) console.log(`  finding: ${finding}`);
  return findings.length === 0;
}

/** Runs a check's main with its resources cleaned up, and sets the exit code. */
async function runCheck(main) {
  const cleanups = [];
  try {
    const passed = await main((fn) => cleanups.push(fn));
    process.exitCode = passed ? 0 : 1;
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        console.error('cleanup failed:', error);
      }
    }
  }
}

module.exports = {
  startPostgres,
  startService,
  request,
  must,
  admin,
  seedTenant,
  percentile,
  summary,
  runCheck,
  sleep,
  freePort,
  ADMIN_TOKEN,
};
