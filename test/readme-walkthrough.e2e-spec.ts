import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { Browser } from './helpers/dashboard';
import { serviceDatabase, ServiceProcess, startService } from './helpers/service-process';
import { TestApp } from './helpers/test-app';

const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

/** The ```sh blocks of a README section, as written. */
function shellBlocks(heading: string): string[] {
  const section = README.split(/^## /m).find((part) => part.startsWith(`${heading}\n`));
  const blocks = [...(section ?? '').matchAll(/```sh\n([\s\S]*?)\n```/g)].map((match) => match[1]);
  if (!blocks.length) throw new Error(`README has no sh block under "## ${heading}"`);
  return blocks;
}
const shellBlock = (heading: string) => shellBlocks(heading)[0];

/** Runs README shell text with bash against the service, which listens on its own port. */
function runAgainst(service: () => ServiceProcess, text: string, defaultUrl: string) {
  return promisify(execFile)(
    'bash',
    ['-e', '-o', 'pipefail', '-c', text.replace(`KW=${defaultUrl}`, `KW=${service().url}`)],
    {
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    },
  );
}

/** The answers a block shows: the comment lines at its end, one per answer. */
const shownAnswers = (block: string) =>
  block
    .trim()
    .split('\n')
    .reverse()
    .filter((line, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith('# ')))
    .reverse()
    .map((line) => line.slice(2));

/**
 * The README's curl walk-through, run by bash against the real service, so the README cannot
 * drift from the code. Only the server URL is changed (the service listens on a free port).
 */
describe('README: first tenant, user and key', () => {
  const script = shellBlock('First tenant, user and key');
  const defaultUrl = /\bKW=(\S+)/.exec(script)![1];
  const adminToken = /\bADMIN_TOKEN=(\S+)/.exec(script)![1];
  const expected = script.trim().split('\n').at(-1)!.replace(/^#\s*/, '');
  const owner = JSON.parse(/-d '(\{"email"[^']*"role":"owner"[^']*\})'/.exec(script)![1]) as {
    email: string;
    password: string;
  };
  let service: ServiceProcess;
  let database: Awaited<ReturnType<typeof serviceDatabase>>;

  beforeAll(async () => {
    database = await serviceDatabase();
    service = await startService({ ...database.env, ADMIN_TOKEN: adminToken });
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  const run = (text: string) => runAgainst(() => service, text, defaultUrl);

  it('Quick start starts the service with the ADMIN_TOKEN the walk-through uses, and names the dashboard URL', () => {
    expect(shellBlock('Quick start')).toContain(`ADMIN_TOKEN=${adminToken} npm start`);
    expect(README.split(/^## /m).find((part) => part.startsWith('Quick start\n'))).toContain(
      'dashboard http://127.0.0.1:3000/login',
    );
  });

  it('ends with the configuration the README shows, verifies a key as a service would, then the owner signs in to the dashboard', async () => {
    expect(expected).toBe('{"api_url":"https://api.example.com"}');
    expect(script).toContain(`KW=${defaultUrl}`);
    const { stdout } = await run(script);
    // Each answer ends with a newline; the last one is the configuration read with the key.
    expect(stdout.endsWith(`${expected}\n`)).toBe(true);
    expect(stdout).toContain(`"email":"${owner.email}"`);
    // The verify example: a keys:verify service key made by the operator checks the user's key.
    expect(script).toContain('$KW/v1/keys/verify');
    expect(script).toContain('$KW/admin/api-keys');
    const verified = stdout.split('\n').find((line) => line.startsWith('{"valid":'));
    expect(JSON.parse(verified!)).toMatchObject({ valid: true, code: 'VALID', scopes: ['config:read'] });
    const shown = JSON.parse(/^# (\{"valid".*)$/m.exec(script)![1].replace(/"…"/g, 'null'));
    expect(Object.keys(JSON.parse(verified!))).toEqual(Object.keys(shown));

    const browser = new Browser({ http: request(service.url) } as unknown as TestApp);
    await browser.signIn(owner);
    const keys = await browser.get('/dashboard/keys');
    expect(keys.status).toBe(200);
    expect(keys.text).toContain('laptop');
  });

  it('stops at the first step that fails (a wrong ADMIN_TOKEN), instead of running on with undefined ids', async () => {
    const wrong = script.replace(`ADMIN_TOKEN=${adminToken}`, `ADMIN_TOKEN=${'x'.repeat(40)}`);
    const failed = await run(wrong).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toContain('curl: (22)');
    expect(failed?.stdout).not.toContain('"email"');
  });
});

describe('README: protect your own API with Keyward keys', () => {
  const [script, identities] = shellBlocks('Protect your own API with Keyward keys');
  const defaultUrl = /\bKW=(\S+)/.exec(script)![1];
  const adminToken = /\bADMIN_TOKEN=(\S+)/.exec(script)![1];
  let service: ServiceProcess;
  let database: Awaited<ReturnType<typeof serviceDatabase>>;

  beforeAll(async () => {
    database = await serviceDatabase();
    service = await startService({ ...database.env, ADMIN_TOKEN: adminToken });
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('defines permissions and a role, verifies permission queries, then shares an identity’s quota and limit between two keys, as shown', async () => {
    const expected = shownAnswers(script);
    expect(expected).toEqual(['true', 'INSUFFICIENT_PERMISSIONS', 'orders:write']);
    for (const step of ['$KW/v1/permissions', '$KW/v1/roles', '"roles":["support"]', '\\"permissions\\":'])
      expect(script).toContain(step);
    const shared = shownAnswers(identities);
    // Two verifies draw on one quota of 1000 by 5 each; the shared `requests` limit counts both.
    expect(shared).toEqual(['org_4711 995 requests:99,exports:9', 'org_4711 990 requests:98', '2', '2']);
    for (const step of ['$KW/v1/identities', '"externalId":"org_4711"', '\\"cost\\":5', '/revoke-keys'])
      expect(identities).toContain(step);

    // The second block goes on from the first one's variables, as a reader would run them.
    const { stdout } = await runAgainst(() => service, `${script}\n${identities}`, defaultUrl);
    expect(stdout).toContain(`\n${expected.join('\n')}\n`);
    expect(stdout).toContain('"name":"support","description":"","permissions":["orders:read"]');
    expect(stdout.endsWith(`${shared.join('\n')}\n`)).toBe(true);
  });
});
