// A real nginx (Debian's package) in front of a service, started by the test itself: its own
// config in a temp folder, one process (master_process off), listening on a free port of
// 127.0.0.1, appending the client's address to X-Forwarded-For as production configs do.
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { freePort } = require('../../bench/lib');

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));

/** The default: one location that proxies everything to `upstream`. */
const proxyAll = (port, upstream) => `
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${upstream};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }`;

function config(dir, port, servers) {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers}
}
`;
}

/**
 * Starts nginx proxying to `upstream` (http://127.0.0.1:PORT), or, given `servers(port)`, with
 * those blocks of the http context instead. Resolves once it listens: nginx writes its pid file
 * after opening its sockets, so the pid file's appearance is the signal.
 */
async function startNginx(upstream, { timeoutMs = 15_000, servers } = {}) {
  if (!NGINX) throw new Error('nginx is not installed (apt-get install -y nginx)');
  const dir = mkdtempSync(join(tmpdir(), 'keyward-nginx-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), config(dir, port, servers ? servers(port) : proxyAll(port, upstream)));
  const test = spawnSync(NGINX, ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
    encoding: 'utf8',
  });
  if (test.status !== 0) throw new Error(`nginx refused its config: ${test.stderr}`);
  rmSync(join(dir, 'nginx.pid'), { force: true }); // the config test leaves one behind
  const listening = new Promise((resolve) => {
    const watcher = watch(dir, () => {
      if (!existsSync(join(dir, 'nginx.pid'))) return;
      watcher.close();
      resolve();
    });
  });
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  let timer;
  const failed = Promise.race([
    exited.then((code) => Promise.reject(new Error(`nginx exited with ${code}: ${stderr}${log()}`))),
    new Promise(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`nginx did not start: ${log()}`)), timeoutMs)),
    ),
  ]);
  const log = () =>
    existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000) : '';
  try {
    await Promise.race([listening, failed]);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  } finally {
    clearTimeout(timer);
  }
  failed.catch(() => undefined);
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startNginx };
