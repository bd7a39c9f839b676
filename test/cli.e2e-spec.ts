import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceProcess, startService } from './helpers/service-process';
import { freePort } from './support/service-process';

/**
 * The real `keyward` command (bin/keyward.js) run as a child process against the real
 * service, itself a child process on a fresh embedded database.
 */
const ROOT = join(__dirname, '..');
const BIN = join(ROOT, 'bin', 'keyward.js');
const ADMIN_TOKEN = 'cli-test-admin-token-0123456789abcdefghij';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const temp = (name: string) => mkdtempSync(join(tmpdir(), `keyward-cli-${name}-`));
const cleanup: string[] = [];
const freshDir = (name: string) => {
  const dir = temp(name);
  cleanup.push(dir);
  return dir;
};

/** Runs `keyward <args>` with only the environment given (plus PATH and a scratch HOME). */
function keyward(
  args: string[],
  options: { dir?: string; env?: Record<string, string>; input?: string } = {},
): Promise<Result> {
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    HOME: freshDir('home'),
    ...(options.dir ? { KEYWARD_CONFIG_DIR: options.dir } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** The same, through a pseudo-terminal (util-linux `script`), answering each prompt as it appears. */
function keywardOnTerminal(
  args: string[],
  dir: string,
  answers: { prompt: string; reply: string }[],
  env: Record<string, string> = {},
): Promise<Result> {
  const command = [process.execPath, BIN, ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, HOME: freshDir('home'), KEYWARD_CONFIG_DIR: dir, TERM: 'dumb', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const pending = [...answers];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    // Answer a prompt only once it shows, as a person would; Enter is \r on a terminal.
    while (pending.length && output.includes(pending[0].prompt)) child.stdin.write(`${pending.shift()!.reply}\r`);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout: output, stderr: '' })));
}

describe('the keyward command line', () => {
  let service: ServiceProcess;
  let url: string;
  const password = `violet tractor ${randomBytes(4).toString('hex')} umbrella`;
  const email = `owner-${randomBytes(4).toString('hex')}@example.com`;
  /** The main login, with every scope the tests need. */
  const home = freshDir('main');
  const credentialsFile = join(home, 'credentials.json');
  const stored = () =>
    JSON.parse(readFileSync(credentialsFile, 'utf8')) as { url: string; apiKey: string; keyId: string };
  const me = (key: string) => fetch(`${url}/auth/me`, { headers: { 'x-api-key': key } });
  const bodyOf = async (response: Response | Promise<Response>): Promise<any> => (await response).json();

  beforeAll(async () => {
    service = await startService({ DATA_DIR: freshDir('data'), ADMIN_TOKEN, LOGIN_FAILURES_PER_ACCOUNT: '3' });
    url = service.url;
    const admin = { 'x-admin-token': ADMIN_TOKEN, 'content-type': 'application/json' };
    const tenant = await bodyOf(
      fetch(`${url}/admin/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'Acme CLI' }) }),
    );
    const user = await fetch(`${url}/admin/tenants/${tenant.id}/users`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ email, role: 'owner', password }),
    });
    expect(user.status).toBe(201);
  });

  afterAll(async () => {
    await service?.stop();
    for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
  });

  it('login --password-stdin stores only the server URL and a new key, in a 0600 file in a 0700 directory', async () => {
    const scopes = 'config:read,config:write,keys:read,keys:write';
    const result = await keyward(
      ['login', '--url', url, '--email', email, '--password-stdin', '--scopes', scopes, '--name', 'ci-runner'],
      { dir: home, input: `${password}\n` },
    );
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toContain(`Logged in to ${url} as ${email}`);

    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    const text = readFileSync(credentialsFile, 'utf8');
    const saved = JSON.parse(text);
    expect(Object.keys(saved).sort()).toEqual(['apiKey', 'createdAt', 'keyId', 'keyName', 'url']);
    expect(saved).toMatchObject({
      url,
      keyId: expect.stringMatching(UUID),
      keyName: 'ci-runner',
      apiKey: expect.stringMatching(/^kw_/),
    });
    // Neither the password nor any token is kept or shown.
    expect(text).not.toContain(password);
    expect(text).not.toMatch(/token|eyJ/i);
    expect(result.stderr).not.toContain(password);
    expect(result.stderr).not.toContain(saved.apiKey);
    expect(service.output()).not.toContain(password);

    const who = await bodyOf(me(saved.apiKey));
    expect(who).toMatchObject({ apiKeyId: saved.keyId, scopes: scopes.split(','), user: { email } });
  });

  it('login through a terminal asks for the email and a hidden password, and names the key after the machine', async () => {
    const dir = freshDir('tty');
    const result = await keywardOnTerminal(['login', '--url', url], dir, [
      { prompt: 'Email: ', reply: email },
      { prompt: 'Password: ', reply: password },
    ]);
    expect(result.stdout).toContain('Email: ');
    expect(result.stdout).toContain(email); // the email is echoed as typed
    expect(result.stdout).toContain('Password: ');
    expect(result.stdout).not.toContain(password); // the password is not
    expect(result.code).toBe(0);
    const saved = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
    expect(saved.keyName).toBe(hostname());
    // The default scope is config:read only.
    expect((await bodyOf(me(saved.apiKey))).scopes).toEqual(['config:read']);
  });

  it('a new login replaces the stored key and revokes the one it replaces', async () => {
    const dir = freshDir('relogin');
    const login = () =>
      keyward(['login', '--url', url, '--email', email, '--password-stdin'], { dir, input: password });
    expect((await login()).code).toBe(0);
    const first = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8'));
    const second = await login();
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`Revoked the previously stored key`);
    expect(JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')).apiKey).not.toBe(first.apiKey);
    expect((await bodyOf(me(first.apiKey))).code).toBe('KEY_REVOKED');
  });

  it('shows a spinner on a terminal while a request takes more than a second, and erases it', async () => {
    const slow = createServer((_req, res) => {
      setTimeout(
        () => res.writeHead(200, { 'content-type': 'application/json', etag: '"1"' }).end('{"slow":"yes"}'),
        1500,
      );
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const env = {
        KEYWARD_URL: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`,
        KEYWARD_API_KEY: 'kw_stub',
      };
      const result = await keywardOnTerminal(['config', 'get', 'slow'], freshDir('spin'), [], env);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/[|/\\-] Fetching configuration/);
      expect(result.stdout).toContain('\x1b[K');
      expect(result.stdout.trim().endsWith('yes')).toBe(true);
    } finally {
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it('whoami shows the server, the user, the tenant and the scopes', async () => {
    const text = await keyward(['whoami'], { dir: home });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(url);
    expect(text.stdout).toContain(`${email} (owner)`);
    expect(text.stdout).toContain('Acme CLI');
    expect(text.stdout).toContain('config:read config:write keys:read keys:write');
    const json = await keyward(['whoami', '--json'], { dir: home });
    expect(JSON.parse(json.stdout)).toMatchObject({
      url,
      kind: 'apiKey',
      apiKeyId: stored().keyId,
      user: { email, role: 'owner' },
      tenant: { name: 'Acme CLI' },
    });
  });

  it('keys create, list, rotate and revoke, as tables or JSON; a revoked key is refused by the server', async () => {
    const created = await keyward(['keys', 'create', '--name', 'deploy bot', '--scopes', 'config:read', '--json'], {
      dir: home,
    });
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key).toMatchObject({
      name: 'deploy bot',
      scopes: ['config:read'],
      apiKey: expect.stringMatching(/^kw_/),
      id: expect.stringMatching(UUID),
    });
    expect((await me(key.apiKey)).status).toBe(200);

    // Without --json the key alone goes to stdout, once.
    const plain = await keyward(['keys', 'create', '--name', 'plain'], { dir: home });
    expect(plain.stdout.trim()).toMatch(/^kw_[0-9A-Za-z]+$/);
    expect(plain.stderr).toContain('it is not shown again');

    const table = await keyward(['keys', 'list'], { dir: home });
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+HINT\s+SCOPES\s+STATUS\s+EXPIRES\s+LAST USED$/);
    expect(lines.find((line) => line.startsWith(key.id))).toMatch(/deploy bot\s+kw_\S+\s+config:read\s+active\s+never/);
    expect(lines.find((line) => line.startsWith(stored().keyId))).toContain('ci-runner (this machine)');
    const listed = JSON.parse((await keyward(['keys', 'list', '--json'], { dir: home })).stdout);
    expect(listed.map((k: { id: string }) => k.id)).toEqual(expect.arrayContaining([key.id, stored().keyId]));
    expect(JSON.stringify(listed)).not.toContain(key.apiKey);

    const rotated = await keyward(['keys', 'rotate', key.id, '--grace-seconds', '0', '--json'], { dir: home });
    expect(rotated.code).toBe(0);
    const next = JSON.parse(rotated.stdout);
    expect(next).toMatchObject({ name: 'deploy bot', rotatedFromId: key.id, apiKey: expect.stringMatching(/^kw_/) });
    expect((await bodyOf(me(key.apiKey))).code).toBe('KEY_REVOKED');
    expect((await me(next.apiKey)).status).toBe(200);

    const revoked = await keyward(['keys', 'revoke', next.id], { dir: home });
    expect(revoked).toMatchObject({ code: 0 });
    expect(revoked.stderr).toContain(`Revoked key ${next.id}`);
    const refused = await me(next.apiKey);
    expect({ status: refused.status, code: (await bodyOf(refused)).code }).toEqual({
      status: 401,
      code: 'KEY_REVOKED',
    });
  });

  it('config set takes JSON when it parses, text otherwise; config get prints a value, a table, JSON or shell exports', async () => {
    const set = async (...args: string[]) =>
      expect((await keyward(['config', 'set', ...args], { dir: home })).code).toBe(0);
    await set('api.url', 'https://api.example.com');
    await set('retries', '3');
    await set('quote', `it's "quoted" $HOME \`x\``);
    await set('flags', '{"beta":true}');
    await set('db-password', 'hunter2', '--secret');

    const json = JSON.parse((await keyward(['config', 'get', '--json'], { dir: home })).stdout);
    expect(json).toMatchObject({
      'api.url': 'https://api.example.com',
      retries: 3,
      quote: `it's "quoted" $HOME \`x\``,
      flags: { beta: true },
    });

    expect((await keyward(['config', 'get', 'api.url'], { dir: home })).stdout).toBe('https://api.example.com\n');
    expect(JSON.parse((await keyward(['config', 'get', 'flags', '--json'], { dir: home })).stdout)).toEqual({
      beta: true,
    });
    expect((await keyward(['config', 'get'], { dir: home })).stdout).toMatch(/^NAME\s+VALUE\n[\s\S]*retries\s+3\n/m);

    const env = (await keyward(['config', 'get', '--env'], { dir: home })).stdout;
    expect(env).toContain("export API_URL='https://api.example.com'\n");
    expect(env).toContain('export FLAGS=\'{"beta":true}\'\n');
    // What eval gets back is exactly what was stored, quotes, $ and backticks included.
    const evaluated = await new Promise<string>((resolve) => {
      const sh = spawn('sh', ['-c', `eval "$1"; printf '%s|%s|%s' "$API_URL" "$RETRIES" "$QUOTE"`, 'sh', env], {
        env: { PATH: process.env.PATH! },
      });
      let out = '';
      sh.stdout.on('data', (chunk) => (out += chunk));
      sh.once('close', () => resolve(out));
    });
    expect(evaluated).toBe(`https://api.example.com|3|it's "quoted" $HOME \`x\``);
    expect((await keyward(['config', 'get', 'api.url', '--env'], { dir: home })).stdout).toBe(
      "export API_URL='https://api.example.com'\n",
    );

    const missing = await keyward(['config', 'get', 'nope'], { dir: home });
    expect(missing.code).toBe(6);
    expect((await keyward(['config', 'get', '--json', '--env'], { dir: home })).code).toBe(1);
  });

  it('config get keeps the last answer and its ETag; when nothing changed the server answers 304 and the cache is used', async () => {
    const cacheFile = join(home, 'config-cache.json');
    rmSync(cacheFile, { force: true });
    const configLines = () =>
      service
        .output()
        .split('\n')
        .filter((line) => line.includes('"route":"/config"'));
    const before = configLines().length;

    expect((await keyward(['config', 'get', 'retries'], { dir: home })).stdout).toBe('3\n');
    const cache = JSON.parse(readFileSync(cacheFile, 'utf8'));
    expect(cache.etag).toMatch(/.+/);
    expect(statSync(cacheFile).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(cache)).not.toContain(stored().apiKey);

    // Change the cached copy only: if the next answer is 304, what is printed comes from here.
    writeFileSync(cacheFile, JSON.stringify({ ...cache, body: { ...cache.body, retries: 'from the cache' } }));
    expect((await keyward(['config', 'get', 'retries'], { dir: home })).stdout).toBe('from the cache\n');
    const requests = configLines().slice(before);
    expect(requests.map((line) => JSON.parse(line).status)).toEqual([200, 304]);
    expect(requests[1]).toContain(cache.etag.replace(/"/g, '\\"'));

    // A change on the server changes the ETag: the new value is fetched and cached.
    expect((await keyward(['config', 'set', 'retries', '4'], { dir: home })).code).toBe(0);
    expect((await keyward(['config', 'get', 'retries'], { dir: home })).stdout).toBe('4\n');
    expect(JSON.parse(readFileSync(cacheFile, 'utf8')).etag).not.toBe(cache.etag);
  });

  it('KEYWARD_URL and KEYWARD_API_KEY override the stored credentials', async () => {
    const other = JSON.parse(
      (await keyward(['keys', 'create', '--name', 'ci', '--scopes', 'config:read', '--json'], { dir: home })).stdout,
    );
    const fromEnvOnly = await keyward(['whoami', '--json'], {
      dir: freshDir('empty'),
      env: { KEYWARD_URL: url, KEYWARD_API_KEY: other.apiKey },
    });
    expect(fromEnvOnly.code).toBe(0);
    expect(JSON.parse(fromEnvOnly.stdout)).toMatchObject({ url, apiKeyId: other.id, scopes: ['config:read'] });

    const overridden = await keyward(['whoami', '--json'], { dir: home, env: { KEYWARD_API_KEY: other.apiKey } });
    expect(JSON.parse(overridden.stdout).apiKeyId).toBe(other.id);
    // A wrong KEYWARD_URL wins over the stored one too.
    expect((await keyward(['whoami'], { dir: home, env: { KEYWARD_URL: 'http://127.0.0.1:9' } })).code).toBe(2);
  });

  describe('errors: message and exit code', () => {
    it('not logged in: 3, and says to run keyward login', async () => {
      const result = await keyward(['config', 'get'], { dir: freshDir('nobody') });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('keyward login');
    });

    it('server unreachable: 2', async () => {
      const port = await freePort();
      const result = await keyward(['whoami'], {
        env: { KEYWARD_URL: `http://127.0.0.1:${port}`, KEYWARD_API_KEY: stored().apiKey },
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(
        `Cannot reach the Keyward server at http://127.0.0.1:${port}: connection refused`,
      );
    });

    it('revoked key: 3, and says to run keyward login again', async () => {
      const victim = JSON.parse(
        (await keyward(['keys', 'create', '--scopes', 'config:read', '--json'], { dir: home })).stdout,
      );
      expect((await keyward(['keys', 'revoke', victim.id], { dir: home })).code).toBe(0);
      const result = await keyward(['config', 'get'], { env: { KEYWARD_URL: url, KEYWARD_API_KEY: victim.apiKey } });
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/revoked.*Run `keyward login/);
    });

    it('insufficient scope: 4, naming the missing scope', async () => {
      const reader = JSON.parse(
        (await keyward(['keys', 'create', '--scopes', 'config:read', '--json'], { dir: home })).stdout,
      );
      const result = await keyward(['keys', 'list'], { env: { KEYWARD_URL: url, KEYWARD_API_KEY: reader.apiKey } });
      expect(result.code).toBe(4);
      expect(result.stderr).toContain('lacks the scope keys:read');
      expect(
        (await keyward(['config', 'set', 'x', '1'], { env: { KEYWARD_URL: url, KEYWARD_API_KEY: reader.apiKey } }))
          .code,
      ).toBe(4);
    });

    it('not found: 6', async () => {
      const result = await keyward(['keys', 'revoke', '00000000-0000-4000-8000-000000000000'], { dir: home });
      expect(result.code).toBe(6);
      expect(result.stderr).toContain('not found');
    });

    it('rate limited by the server (too many sign-in failures): 5, saying when to retry', async () => {
      const attempt = () =>
        keyward(['login', '--url', url, '--email', email, '--password-stdin'], {
          dir: freshDir('guess'),
          input: 'wrong password\n',
        });
      for (let i = 0; i < 3; i++) {
        const failed = await attempt();
        expect(failed.code).toBe(3);
        expect(failed.stderr).toContain('Invalid email or password');
      }
      const limited = await attempt();
      expect(limited.code).toBe(5);
      expect(limited.stderr).toMatch(/Too many sign-in attempts; retry in \d+ s \(after \d{4}-\d\d-\d\dT/);
    });

    it('rate limited on a key (429 RATE_LIMITED with Retry-After, from a stub server): 5, saying when to retry', async () => {
      // The service has no per-key rate limit yet, so a stub plays the server's 429 answer.
      const stub: Server = createServer((_req, res) => {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '42' });
        res.end(
          JSON.stringify({
            statusCode: 429,
            error: 'Too Many Requests',
            message: 'Rate limit exceeded',
            code: 'RATE_LIMITED',
            requestId: 'r1',
          }),
        );
      });
      await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
      try {
        const result = await keyward(['config', 'get'], {
          env: { KEYWARD_URL: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`, KEYWARD_API_KEY: 'kw_stub' },
        });
        expect(result.code).toBe(5);
        expect(result.stderr).toMatch(/Rate limited by the server; retry in 42 s \(after /);
      } finally {
        await new Promise((resolve) => stub.close(resolve));
      }
    });

    it('usage errors: 1', async () => {
      expect((await keyward(['keys', 'frobnicate'], { dir: home })).code).toBe(1);
      expect(
        (
          await keyward(['login', '--url', 'ftp://x', '--email', email, '--password-stdin'], {
            dir: freshDir('usage'),
            input: 'x\n',
          })
        ).code,
      ).toBe(1);
      // Without a terminal, login refuses to ask for a password and points to --password-stdin.
      const noTerminal = await keyward(['login', '--url', url, '--email', email], { dir: freshDir('usage') });
      expect(noTerminal.code).toBe(1);
      expect(noTerminal.stderr).toContain('--password-stdin');
    });

    it('--help documents the exit codes', async () => {
      const help = await keyward(['--help']);
      expect(help.code).toBe(0);
      for (const code of [
        '0  success',
        '2  server unreachable',
        '3  not logged in',
        '4  permission denied',
        '5  rate limited',
        '6  not found',
      ])
        expect(help.stdout).toContain(code);
    });
  });

  describe('edges a newcomer meets', () => {
    const createKeyJson = async (...args: string[]) => {
      const result = await keyward(['keys', 'create', '--json', ...args], { dir: home });
      expect(result.code).toBe(0);
      return JSON.parse(result.stdout) as { id: string; name: string; hint: string; apiKey: string };
    };

    it('a closed pipe (keyward whoami | head) ends quietly, without an EPIPE stack trace', async () => {
      const bin = `'${process.execPath}' '${BIN}'`;
      // `true` exits before the answer comes, so the write meets a closed pipe.
      const child = spawn('bash', ['-o', 'pipefail', '-c', `${bin} whoami | true; ${bin} keys list --json | true`], {
        cwd: ROOT,
        env: { PATH: process.env.PATH!, HOME: freshDir('home'), KEYWARD_CONFIG_DIR: home },
      });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const code = await new Promise((resolve) => child.once('close', resolve));
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    });

    it('--expires-in-days and --grace-seconds are checked before anything is sent', async () => {
      const offline = { KEYWARD_URL: 'http://127.0.0.1:9', KEYWARD_API_KEY: stored().apiKey };
      for (const days of ['abc', '0', '1.5', '3651']) {
        const result = await keyward(['keys', 'create', '--expires-in-days', days], { env: offline });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(`--expires-in-days must be a whole number from 1 to 3650, not "${days}"`);
      }
      const grace = await keyward(['keys', 'rotate', '00000000-0000-4000-8000-000000000000', '--grace-seconds', 'x'], {
        env: offline,
      });
      expect(grace.code).toBe(1);
      expect(grace.stderr).toContain('--grace-seconds must be a whole number from 0 to 604800');
    });

    it('keys rotate and revoke take a name or the start of an id or hint when only one key matches', async () => {
      const name = `rotate-me-${randomBytes(3).toString('hex')}`;
      const key = await createKeyJson('--name', name, '--scopes', 'config:read');
      const rotated = await keyward(['keys', 'rotate', name, '--json'], { dir: home });
      expect(rotated.code).toBe(0);
      const next = JSON.parse(rotated.stdout);
      expect(next.rotatedFromId).toBe(key.id);

      // The old key (rotating) and its successor now share the name: an id is needed.
      const ambiguous = await keyward(['keys', 'rotate', name], { dir: home });
      expect(ambiguous.code).toBe(1);
      expect(ambiguous.stderr).toContain(`"${name}" matches 2 keys`);
      expect(ambiguous.stderr).toContain('give the id of one');

      const byPrefix = await keyward(['keys', 'revoke', next.id.slice(0, 13)], { dir: home });
      expect(byPrefix.code).toBe(0);
      expect(byPrefix.stderr).toContain(`Revoked key ${next.id}`);

      const unknown = await keyward(['keys', 'rotate', 'no-such-key-name'], { dir: home });
      expect(unknown.code).toBe(6);
      expect(unknown.stderr).toContain('No key named or starting with "no-such-key-name"; give its id.');
    });

    it('revoking a key that is already revoked says so and exits 1', async () => {
      const key = await createKeyJson('--scopes', 'config:read');
      expect((await keyward(['keys', 'revoke', key.id], { dir: home })).code).toBe(0);
      const again = await keyward(['keys', 'revoke', key.id], { dir: home });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`(${key.id}) was already revoked`);
      expect(again.stderr).not.toContain('Revoked key');
    });

    it('a bad KEYWARD_API_KEY is reported as coming from that variable', async () => {
      const result = await keyward(['whoami'], { env: { KEYWARD_URL: url, KEYWARD_API_KEY: 'kw_not-a-real-key' } });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('The API key in KEYWARD_API_KEY is malformed');
      expect(result.stderr).not.toContain('stored');
    });

    it('config get --env unsets a null entry instead of exporting the text null, and says how many secrets it omitted', async () => {
      expect((await keyward(['config', 'set', 'nothing.here', 'null'], { dir: home })).code).toBe(0);
      expect((await keyward(['config', 'set', 'text.null', '"null"'], { dir: home })).code).toBe(0);
      expect((await keyward(['config', 'set', 'hidden.token', 'abc', '--secret'], { dir: home })).code).toBe(0);
      const env = await keyward(['config', 'get', '--env'], { dir: home });
      expect(env.code).toBe(0);
      expect(env.stdout).toContain('unset NOTHING_HERE\n');
      expect(env.stdout).toContain("export TEXT_NULL='null'\n");
      expect(env.stdout).not.toContain('HIDDEN_TOKEN');
      expect(env.stderr).toMatch(/\b\d+ secret entr(y was|ies were) omitted: this key lacks the config:secrets scope/);
      // The same note when the answer is 304 and the cached copy is used.
      const cached = await keyward(['config', 'get', '--json'], { dir: home });
      expect(cached.stderr).toContain('omitted: this key lacks the config:secrets scope');
    });
  });

  it('logout revokes the stored key on the server, then deletes the credentials', async () => {
    const { apiKey } = stored();
    const result = await keyward(['logout'], { dir: home });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Revoked key "ci-runner"');
    expect(existsSync(credentialsFile)).toBe(false);
    expect(existsSync(join(home, 'config-cache.json'))).toBe(false);
    const refused = await me(apiKey);
    expect({ status: refused.status, code: (await bodyOf(refused)).code }).toEqual({
      status: 401,
      code: 'KEY_REVOKED',
    });

    // Logging out when not logged in is already done: exit 0 with a note, so scripts can always call it.
    const again = await keyward(['logout'], { dir: home });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('Not logged in');
  });
});
