// The built service as a child process, for every suite that needs a real process: the e2e
// specs, the security and reliability checks and the benchmarks. Plain CommonJS, so the .js
// suites and bench/ can require it without compiling anything.
const { spawn } = require('node:child_process');
const { createWriteStream, readFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { join } = require('node:path');
const { ensureBuilt } = require('../../scripts/build-if-stale');

const ROOT = join(__dirname, '..', '..');
/** The compiled service; `scripts/start.js` (what `npm start` runs) is the other entry. */
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const START = join(ROOT, 'scripts', 'start.js');
const READY_POLL_MS = 50;

// Ports for the processes the suites start come from below the kernel's ephemeral range, in a
// slice of their own per jest worker. A port taken by listen(0) (supertest binds one per request)
// or by an outgoing connection is always in the ephemeral range, so it can never be handed out
// here between the check and the child's own bind, and two workers never pick the same one.
// (A port picked with listen(0) and released could be: the child then failed to bind, and its
// readiness check was answered by another worker's app on that port.)
const EPHEMERAL_LOW = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32768;
  }
})();
const PORT_FLOOR = 10_000;
const SLICE = Math.floor((EPHEMERAL_LOW - PORT_FLOOR) / 8);
const handedOut = new Set();

/** Listens on `port` (0: any) of the wildcard address, which conflicts with a listener on any address. */
function tryListen(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '0.0.0.0', () => {
      const taken = server.address().port;
      server.close(() => resolve(taken));
    });
  });
}

/** A port nobody listens on right now (the service is told to use it, so its URL is known). */
async function freePort() {
  // A machine whose ephemeral range starts low leaves no room: any free port, as before.
  if (SLICE < 100) return tryListen(0);
  const worker = Math.max(1, Number(process.env.JEST_WORKER_ID) || 1);
  const start = PORT_FLOOR + ((worker - 1) % 8) * SLICE;
  for (let attempt = 0; attempt < SLICE; attempt++) {
    const port = start + Math.floor(Math.random() * SLICE);
    if (handedOut.has(port) || (await tryListen(port)) === undefined) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${start}-${start + SLICE - 1}`);
}

/** What the child sees: the caller's variables and nothing else from this shell but PATH and HOME. */
function childEnv(env) {
  const inherited = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_PATH: process.env.NODE_PATH };
  const merged = { ...inherited, ...env };
  return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
}

/**
 * Spawns the service and collects its output: kept in memory (`output()`), copied to this
 * process (`output: 'inherit'`), or written to `logFile`.
 */
function spawnService({ env, entry = MAIN, prefix = [], output = 'keep', logFile }) {
  if (entry === MAIN) ensureBuilt({ quiet: true });
  const [command, ...args] = [...prefix, process.execPath, entry];
  const inherit = output === 'inherit';
  const child = spawn(command, args, {
    cwd: ROOT,
    env: childEnv(env),
    stdio: inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
  });
  const kept = { all: '', stdout: '', stderr: '' };
  const log = logFile ? createWriteStream(logFile) : undefined;
  for (const name of inherit ? [] : ['stdout', 'stderr']) {
    child[name].on('data', (chunk) => {
      if (log) return void log.write(chunk);
      kept.all += chunk;
      kept[name] += chunk;
    });
  }
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  // Wait for the streams too, so a log file is complete once `exited` has resolved.
  const closed = new Promise((resolve) => child.once('close', resolve)).then(
    () => log && new Promise((resolve) => log.end(resolve)),
  );
  return { child, kept, output: () => kept.all, exited: Promise.all([exited, closed]).then(([code]) => code) };
}

/**
 * Starts the service on a free port and resolves once GET /ready answers 200. Fails with the
 * output so far when the process exits first or is not ready within `readyTimeoutMs`.
 * `prefix` runs it under another program (e.g. `taskset -c 0`, which execs node, so child.pid
 * stays the server's).
 */
async function startService({ env = {}, entry, prefix, output, logFile, readyTimeoutMs = 45_000 } = {}) {
  const port = env.PORT && env.PORT !== '0' ? Number(env.PORT) : await freePort();
  const service = spawnService({ env: { ...env, PORT: String(port) }, entry, prefix, output, logFile });
  const { child, exited } = service;
  const url = `http://127.0.0.1:${port}`;
  const alive = () => child.exitCode === null && child.signalCode === null;
  const describe = () => (logFile ? `see ${logFile}` : service.output().slice(-3000));
  let timer;
  const deadline = new Promise((resolve) => (timer = setTimeout(resolve, readyTimeoutMs)));
  try {
    for (let gaveUp = false; !gaveUp;) {
      if (!alive())
        throw new Error(
          `service exited with ${child.exitCode ?? child.signalCode} before it was ready:\n${describe()}`,
        );
      const status = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5_000) }).then(
        (res) => res.status,
        () => 0,
      );
      if (status === 200) {
        return {
          url,
          port,
          child,
          logFile,
          output: service.output,
          alive,
          exited,
          /** Sends `signal` (SIGTERM by default) unless it already ended; resolves with the exit code. */
          stop: (signal = 'SIGTERM') => (alive() && child.kill(signal), exited),
        };
      }
      gaveUp = await Promise.race([
        new Promise((resolve) => setTimeout(() => resolve(false), READY_POLL_MS)),
        exited.then(() => false),
        deadline.then(() => true),
      ]);
    }
  } finally {
    clearTimeout(timer);
  }
  child.kill('SIGKILL');
  await exited;
  throw new Error(`service was not ready within ${readyTimeoutMs} ms:\n${describe()}`);
}

/** Runs the service expecting it to refuse to start; resolves with its exit code and output. */
async function runToExit({ env = {}, entry, timeoutMs = 20_000 } = {}) {
  const service = spawnService({ env, entry });
  const timer = setTimeout(() => service.child.kill('SIGKILL'), timeoutMs);
  const code = await service.exited;
  clearTimeout(timer);
  if (service.child.signalCode === 'SIGKILL')
    throw new Error(`service did not exit within ${timeoutMs} ms:\n${service.output()}`);
  return { code, stdout: service.kept.stdout, stderr: service.kept.stderr };
}

module.exports = { ROOT, MAIN, START, freePort, startService, runToExit };
