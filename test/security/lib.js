// Shared pieces of the security checks: the service as a separate process on a fresh
// PostgreSQL database, a small HTTP client that can pick its source address, seeding, and
// the record of every secret the run used (for the leak scan).
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, readdirSync, readFileSync } = require('node:fs');
const { request } = require('node:http');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { randomBytes } = require('node:crypto');
const { startService: startProcess } = require('../support/service-process');

const ROOT = join(__dirname, '..', '..');
const PG_BASE = process.env.SECURITY_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const ROLES = ['owner', 'admin', 'member', 'viewer'];
const SCOPES = [
  'keys:read',
  'keys:write',
  'config:read',
  'config:write',
  'config:secrets',
  'users:read',
  'audit:read',
  'keys:verify',
  'permissions:read',
  'permissions:write',
];

/** Every secret the run used or received; the leak scan looks for each of them. */
const secrets = new Map();
function remember(kind, value) {
  if (value) secrets.set(value, kind);
  return value;
}

const workDir = mkdtempSync(join(tmpdir(), 'keyward-security-'));

const baseEnv = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  HOST: '127.0.0.1',
  DOCS_ENABLED: 'true',
  ADMIN_TOKEN: remember('ADMIN_TOKEN', `adm-${randomBytes(24).toString('hex')}`),
  JWT_SECRET: remember('JWT_SECRET', `jwt-${randomBytes(24).toString('hex')}`),
  KEY_PEPPER: remember('KEY_PEPPER', `pep-${randomBytes(24).toString('hex')}`),
  CONFIG_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
};

function psql(database, sql) {
  const result = spawnSync('psql', [`${PG_BASE}/${database}`, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`psql: ${result.stderr}`);
  return result.stdout;
}

/** A database of our own; dropped by the returned function. */
function createDatabase() {
  const name = `keyward_security_${process.pid}`;
  psql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  psql('postgres', `CREATE DATABASE ${name}`);
  return {
    name,
    url: `${PG_BASE}/${name}`,
    drop: () => psql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Starts dist/src/main.js; all of its output goes to `<workDir>/<name>.log`. */
async function startService(name, env) {
  const logFile = join(workDir, `${name}.log`);
  try {
    const service = await startProcess({ env: { ...baseEnv, ...env }, logFile, readyTimeoutMs: 60_000 });
    return { url: service.url, port: service.port, child: service.child, logFile, stop: () => service.stop() };
  } catch (error) {
    throw new Error(`service ${name} did not become ready:\n${readFileSync(logFile, 'utf8').slice(-3000)}`, {
      cause: error,
    });
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One HTTP request; never throws on a status. `from` picks the source address (127.0.0.0/8).
 * Returns status, headers, text, json (when parseable) and the elapsed milliseconds.
 */
function http(baseUrl, method, path, { body, headers = {}, from, form, timeoutMs = 10_000 } = {}) {
  let payload;
  const h = { ...headers };
  if (form) {
    payload = new URLSearchParams(form).toString();
    h['content-type'] ??= 'application/x-www-form-urlencoded';
  } else if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    h['content-type'] ??= 'application/json';
  }
  if (payload !== undefined) h['content-length'] = Buffer.byteLength(payload);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    // A connection per request (agent: false): a reused keep-alive socket that the service closed
    // after an earlier garbage request would surface as a reset on an innocent one.
    const req = request(
      new URL(path, baseUrl),
      { method, headers: h, localAddress: from, timeout: timeoutMs, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json, ms });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${path}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Like http(), but a status other than `expected` throws. */
async function must(baseUrl, method, path, options, expected) {
  const res = await http(baseUrl, method, path, options);
  const ok = expected ? res.status === expected : res.status < 300;
  if (!ok) throw new Error(`${method} ${path} → ${res.status} ${res.text.slice(0, 300)}`);
  return res;
}

const cookieOf = (res, name) => {
  const set = [].concat(res.headers['set-cookie'] ?? []);
  for (const line of set) {
    const [pair] = line.split(';');
    const [key, ...rest] = pair.split('=');
    if (key.trim() === name) return rest.join('=');
  }
  return undefined;
};

/** GET /login, then POST it with the CSRF token: the dashboard session cookie. */
async function dashboardSignIn(url, email, password, from) {
  const page = await http(url, 'GET', '/login', { from });
  const csrfCookie = cookieOf(page, 'kw_csrf');
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
  if (!csrfCookie || !token) throw new Error('login page has no CSRF token');
  const res = await http(url, 'POST', '/login', {
    from,
    form: { _csrf: token, email, password },
    headers: { cookie: `kw_csrf=${csrfCookie}` },
  });
  const session = cookieOf(res, 'kw_session');
  if (res.status !== 303 || !session) throw new Error(`dashboard sign-in → ${res.status}`);
  return remember('session cookie', session);
}

/** Reads every mail in DATA_DIR/outbox and returns the tokens of its links. */
function outboxTokens(dataDir) {
  const dir = join(dataDir, 'outbox');
  let files = [];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const tokens = [];
  for (const file of files) {
    // Quoted-printable soft breaks ("=\n") split long lines; join them before matching.
    const text = readFileSync(join(dir, file), 'utf8')
      .replace(/=\r?\n/g, '')
      .replace(/=3D/g, '=');
    for (const match of text.matchAll(/[?&]token=([A-Za-z0-9%._~-]+)/g)) tokens.push(decodeURIComponent(match[1]));
  }
  return tokens;
}

const strongPassword = () => remember('password', `violet tractor ${randomBytes(6).toString('hex')} umbrella`);

/**
 * Two tenants, each with one user per role; every user has a JWT (and refresh token), a
 * dashboard session, and (for roles that may hold it) one API key per scope.
 */
/** The first operator, made once per service by the first seed (the bootstrap works only once). */
let operator;

async function seed(url) {
  const admin = { 'x-admin-token': baseEnv.ADMIN_TOKEN };
  if (!operator) {
    operator = { email: `operator-${randomBytes(3).toString('hex')}@example.com`, password: strongPassword() };
    await must(url, 'POST', '/admin/operators', { headers: admin, body: operator }, 201);
  }
  // A console session of its own for each world: a check may sign it out.
  const operatorSession = await dashboardSignIn(url, operator.email, operator.password);
  const tenants = [];
  for (const label of ['a', 'b']) {
    const tenant = (
      await must(url, 'POST', '/admin/tenants', {
        headers: admin,
        body: { name: `Security ${label} ${randomBytes(3).toString('hex')}` },
      })
    ).json;
    // One key per scope and one with all of them: more than the default cap of 10 per user.
    await must(url, 'PATCH', `/admin/tenants/${tenant.id}`, { headers: admin, body: { maxKeysPerUser: 20 } });
    const users = {};
    for (const role of ROLES) {
      const email = `${role}-${label}-${randomBytes(3).toString('hex')}@example.com`;
      const password = strongPassword();
      const user = (
        await must(url, 'POST', `/admin/tenants/${tenant.id}/users`, {
          headers: admin,
          body: { email, role, password },
        })
      ).json;
      const tokens = (await must(url, 'POST', '/auth/login', { body: { email, password } })).json;
      remember('access token', tokens.accessToken);
      remember('refresh token', tokens.refreshToken);
      const session = await dashboardSignIn(url, email, password);
      users[role] = {
        id: user.id,
        email,
        password,
        role,
        jwt: tokens.accessToken,
        refreshToken: tokens.refreshToken,
        session,
        keys: {},
      };
    }
    // One key per scope, made by the owner (who holds every scope).
    for (const scope of SCOPES) {
      const created = (
        await must(
          url,
          'POST',
          '/v1/api-keys',
          {
            headers: { authorization: `Bearer ${users.owner.jwt}` },
            body: { name: `scope ${scope}`, scopes: [scope] },
          },
          201,
        )
      ).json;
      users.owner.keys[scope] = { id: created.id, key: remember('API key', created.apiKey) };
    }
    // A key with every scope, and a config entry and a second session to aim at.
    const all = (
      await must(
        url,
        'POST',
        '/v1/api-keys',
        { headers: { authorization: `Bearer ${users.owner.jwt}` }, body: { name: 'all scopes', scopes: SCOPES } },
        201,
      )
    ).json;
    const secretValue = remember('config secret', `s3cret-${randomBytes(12).toString('hex')}`);
    await must(url, 'PUT', '/v1/config/entries/feature.flag', {
      headers: { authorization: `Bearer ${users.owner.jwt}` },
      body: { value: 'on' },
    });
    await must(url, 'PUT', '/v1/config/entries/db.password', {
      headers: { authorization: `Bearer ${users.owner.jwt}` },
      body: { value: secretValue, secret: true },
    });
    tenants.push({ ...tenant, label, users, allKey: { id: all.id, key: remember('API key', all.apiKey) } });
  }
  return { tenants, adminToken: baseEnv.ADMIN_TOKEN, operator: { ...operator, session: operatorSession } };
}

/** Runs a program, resolves with its exit code and output; killed after `timeoutMs`. */
function runTool(command, args, { timeoutMs = 120_000, cwd } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

module.exports = {
  ROOT,
  ROLES,
  SCOPES,
  baseEnv,
  workDir,
  secrets,
  remember,
  createDatabase,
  startService,
  http,
  must,
  cookieOf,
  dashboardSignIn,
  outboxTokens,
  strongPassword,
  seed,
  runTool,
  median,
  sleep,
  psql,
  PG_BASE,
};

/**
 * An HTTP proxy that sends every request from its own source address in 127.0.0.0/8. The
 * scanners go through it so the per-address throttles of sign-in, forgot and reset (which
 * would answer 429 to everything after ten tries) do not hide the code under test.
 */
function rotatingProxy(firstOctet) {
  let n = 0;
  let statuses = {};
  const slow = [];
  let maxMs = 0;
  const server = require('node:http').createServer((req, res) => {
    n++;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      maxMs = Math.max(maxMs, ms);
      if (ms > 1000) slow.push(`${req.method} ${req.url} ${Math.round(ms)} ms`);
    });
    const target = new URL(req.url);
    const upstream = request(
      target,
      { method: req.method, headers: req.headers, localAddress: `127.${firstOctet}.${(n >> 8) & 255}.${n & 255 || 1}` },
      (up) => {
        statuses[up.statusCode] = (statuses[up.statusCode] ?? 0) + 1;
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => (res.headersSent ? res.destroy() : (res.writeHead(502), res.end())));
    req.pipe(upstream);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        requests: () => n,
        slow: () => slow,
        maxMs: () => maxMs,
        takeStatuses: () => ((s) => ((statuses = {}), s))(statuses),
        close: () => server.close(),
      }),
    ),
  );
}
module.exports.rotatingProxy = rotatingProxy;
