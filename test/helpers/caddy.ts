import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/service-process';

const CADDY = ['/usr/bin/caddy', '/usr/local/bin/caddy'].find((path) => existsSync(path));

export interface RunningCaddy {
  url: string;
  stop(): Promise<void>;
}

/**
 * A real Caddy (Debian's package) started by the test: `site(port)` is the Caddyfile's site
 * block, served on 127.0.0.1:port with the admin endpoint off and its storage in a temp folder.
 * Resolves once Caddy says it serves its configuration (its sockets are open by then).
 */
export async function startCaddy(site: (port: number) => string, timeoutMs = 15_000): Promise<RunningCaddy> {
  if (!CADDY) throw new Error('caddy is not installed (apt-get install -y caddy)');
  const dir = mkdtempSync(join(tmpdir(), 'keyward-caddy-'));
  const port = await freePort();
  const caddyfile = join(dir, 'Caddyfile');
  writeFileSync(caddyfile, `{\n  admin off\n  auto_https off\n}\n\n${site(port)}\n`);
  const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  const check = spawnSync(CADDY, ['validate', '--config', caddyfile, '--adapter', 'caddyfile'], {
    encoding: 'utf8',
    env,
  });
  if (check.status !== 0) throw new Error(`caddy refused its config: ${check.stderr}`);
  const child: ChildProcess = spawn(CADDY, ['run', '--config', caddyfile, '--adapter', 'caddyfile'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk) => {
        stderr += chunk;
        if (stderr.includes('serving initial configuration')) resolve();
      });
      void exited.then((code) => reject(new Error(`caddy exited with ${code}: ${stderr.slice(-2000)}`)));
      timer = setTimeout(() => reject(new Error(`caddy did not start: ${stderr.slice(-2000)}`)), timeoutMs);
    });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
