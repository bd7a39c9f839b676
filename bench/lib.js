// Shared pieces of the benchmarks: start the built service as a child process, run autocannon.
const { spawnSync } = require('node:child_process');
const { mkdtempSync } = require('node:fs');
const { availableParallelism, tmpdir } = require('node:os');
const { join } = require('node:path');
const autocannon = require('autocannon');
const { freePort, startService } = require('../test/support/service-process');

const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdefghijklmnop';

/**
 * Server on core 0, load generator (this process, every thread) on core 1, when the machine has
 * two cores and taskset: sharing both cores, the two steal time from each other and the same run
 * moves by ±20%. BENCH_PIN=0 turns it off. Returns the words that describe the setup.
 */
function pinLoadGenerator() {
  if (process.env.BENCH_PIN === '0' || availableParallelism() < 2) return 'cores shared';
  const pinned = spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  if (pinned.status !== 0) return 'cores shared (taskset unavailable)';
  pinnedServer = true;
  return 'server on core 0, load generator on core 1';
}
let pinnedServer = false;

/** Starts dist/src/main.js on a free port; PostgreSQL when BENCH_DATABASE_URL is set, else embedded. */
async function startServer(extraEnv = {}) {
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'keyward-bench-')),
    ADMIN_TOKEN,
    JWT_SECRET: 'bench-jwt-secret-0123456789abcdefghijklmnop',
    KEY_PEPPER: 'bench-key-pepper-0123456789abcdefghijklmnop',
    CONFIG_ENCRYPTION_KEY: 'ab'.repeat(32),
    ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
    ...extraEnv,
  };
  // taskset execs node in its own process, so child.pid is the server's.
  const prefix = pinnedServer ? ['taskset', '-c', '0'] : [];
  const { url, child, stop } = await startService({ env, prefix, output: 'inherit', readyTimeoutMs: 30_000 });
  return { url, child, stop: () => stop() };
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

module.exports = { startServer, pinLoadGenerator, api, run, summarize, freePort, ADMIN_TOKEN };
