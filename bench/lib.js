// Shared pieces of the benchmarks: processes pinned to a core, the load generator (wrk, or
// autocannon for the older in-process benches), PostgreSQL databases of their own.
const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, readFileSync, writeFileSync } = require('node:fs');
const { availableParallelism, tmpdir } = require('node:os');
const { join } = require('node:path');
const { Client } = require('pg');
const autocannon = require('autocannon');
const { freePort, startService } = require('../test/support/service-process');

const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdefghijklmnop';
const METRICS_TOKEN = 'bench-metrics-token-0123456789abcdefghijklmnop';
const LOCAL_SERVER = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Servers on core 0, load generator (this process and wrk) on core 1, when the machine has two
 * cores and taskset: sharing both cores, the two steal time from each other and the same run
 * moves by ±20%. BENCH_PIN=0 turns it off. Returns the words that describe the setup.
 */
function pinLoadGenerator() {
  if (process.env.BENCH_PIN === '0' || availableParallelism() < 2) return 'cores shared';
  const pinned = spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  if (pinned.status !== 0) return 'cores shared (taskset unavailable)';
  pinning = true;
  return 'servers on core 0, load generator on core 1';
}
let pinning = false;
/** The command prefix that puts a process on `core` (nothing when not pinning). */
const onCore = (core) => (pinning ? ['taskset', '-c', String(core)] : []);
const isPinned = () => pinning;

/** Starts dist/src/main.js on a free port; PostgreSQL when DATABASE_URL is given, else embedded. */
async function startServer(extraEnv = {}, { core = 0 } = {}) {
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'keyward-bench-')),
    ADMIN_TOKEN,
    METRICS_TOKEN,
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnop',
    KEY_PEPPER: 'bench-key-pepper-0123456789abcdefghijklmnop',
    CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32),
    ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
    ...extraEnv,
  };
  // taskset execs node in its own process, so child.pid is the server's.
  const { url, child, stop } = await startService({ env, prefix: onCore(core), readyTimeoutMs: 120_000 });
  return { url, child, stop: () => stop() };
}

/**
 * Starts a plain node script (a peer to compare with) on `core` with PORT set, and resolves
 * with its first line of output (JSON when it prints any) once that line arrives.
 */
async function startScript(script, env = {}, { core = 0, timeoutMs = 120_000 } = {}) {
  const port = await freePort();
  const [command, ...args] = [...onCore(core), process.execPath, script];
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const firstLine = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${output}`)), timeoutMs);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const end = output.indexOf('\n');
      if (end < 0) return;
      clearTimeout(timer);
      resolve(output.slice(0, end));
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}:\n${output}`)));
  });
  let info = {};
  try {
    info = JSON.parse(firstLine);
  } catch {
    // a plain "listening"
  }
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    info,
    stop: () => (child.exitCode === null && child.kill('SIGTERM'), exited),
  };
}

/** utime + stime of a process, in µs (Linux /proc; clock ticks are 10 ms). */
function cpuMicros(child) {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** wrk on PATH, or installed from Debian's packages when this is a root shell with apt-get. */
function ensureWrk() {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
  if (!canInstall)
    throw new Error('wrk is not installed: install it (Debian/Ubuntu: apt-get install -y wrk) and run the bench again');
  console.log('wrk is not installed; installing it: apt-get install -y wrk');
  const installed = spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' });
  if (installed.status !== 0 || spawnSync('wrk', ['--version']).error !== undefined)
    throw new Error('apt-get install -y wrk failed; install wrk and run the bench again');
}

const MS = { us: 0.001, ms: 1, s: 1000 };
const toMs = (text) => {
  const [, value, unit] = /([\d.]+)(us|ms|s)/.exec(text) ?? [];
  return value === undefined ? NaN : Number(value) * MS[unit];
};

/**
 * One wrk run (one thread, on `core` when pinning; core null: anywhere). `body` makes it a POST with a JSON body.
 * Counts what was not 2xx as wrk reports it (status ≥ 400) plus socket errors; 1xx/3xx answers
 * are counted on the server side by the caller where the server can tell (Keyward's /metrics).
 */
function wrk({ url, seconds, connections, headers = {}, body, rotate, core = 1 }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  let lua = '';
  if (body !== undefined)
    lua += `wrk.method = "POST"\nwrk.body = ${JSON.stringify(JSON.stringify(body))}\nwrk.headers["content-type"] = "application/json"\n`;
  // `rotate: { header, values }`: each request sends the next value of the list in that header.
  if (rotate)
    lua +=
      `local values = {${rotate.values.map((v) => JSON.stringify(v)).join(',')}}\nlocal i = 0\n` +
      `request = function()\n  i = i % #values + 1\n  return wrk.format(nil, nil, {[${JSON.stringify(rotate.header)}] = values[i]})\nend\n`;
  if (lua) {
    const script = join(mkdtempSync(join(tmpdir(), 'keyward-wrk-')), 'script.lua');
    writeFileSync(script, lua);
    args.push('-s', script);
  }
  args.push(url);
  return new Promise((resolve, reject) => {
    const [command, ...rest] = [...(core === null ? [] : onCore(core)), 'wrk', ...args];
    const child = spawn(command, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`wrk failed (${code}): ${out}`));
      const number = (pattern) => Number(pattern.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        requests: number(/(\d+) requests in/),
        rps: number(/Requests\/sec:\s+([\d.]+)/),
        p50: toMs(/50%\s+(\S+)/.exec(out)?.[1] ?? ''),
        p99: toMs(/99%\s+(\S+)/.exec(out)?.[1] ?? ''),
        non2xx: number(/Non-2xx or 3xx responses: (\d+)/),
        errors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
      });
    });
  });
}

async function withClient(url, work) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the local server, and how to drop it. */
async function createDatabase(name) {
  await withClient(LOCAL_SERVER, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(LOCAL_SERVER);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => withClient(LOCAL_SERVER, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function api(url, method, path, body, headers = {}) {
  const res = await fetch(url + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body && JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({ ...options }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

/** One row of figures: requests/s and latency percentiles (ms), with status counts. */
function summarize(name, result) {
  return {
    name,
    'req/s': Math.round(result.requests.average),
    'p50 ms': result.latency.p50,
    'p99 ms': result.latency.p99,
    'max ms': result.latency.max,
    '2xx': result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

module.exports = {
  ADMIN_TOKEN,
  METRICS_TOKEN,
  api,
  cpuMicros,
  createDatabase,
  ensureWrk,
  freePort,
  isPinned,
  median,
  pinLoadGenerator,
  run,
  startScript,
  startServer,
  summarize,
  withClient,
  wrk,
};
