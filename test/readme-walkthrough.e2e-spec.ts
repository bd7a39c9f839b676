import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { Browser } from './helpers/dashboard';
import { serviceDatabase, ServiceProcess, startService } from './helpers/service-process';
import { TestApp } from './helpers/test-app';

const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

/** The ```sh block of a README section, as written. */
function shellBlock(heading: string): string {
  const section = README.split(/^## /m).find((part) => part.startsWith(`${heading}\n`));
  const block = section && /```sh\n([\s\S]*?)\n```/.exec(section);
  if (!block) throw new Error(`README has no sh block under "## ${heading}"`);
  return block[1];
}

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

  it('ends with the configuration the README shows, then the owner signs in to the dashboard', async () => {
    expect(expected).toBe('{"api_url":"https://api.example.com"}');
    const run = script.replace(`KW=${defaultUrl}`, `KW=${service.url}`);
    expect(run).not.toBe(script);
    const { stdout } = await promisify(execFile)('bash', ['-e', '-o', 'pipefail', '-c', run], {
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    });
    // curl prints each answer without a newline; the last one is the configuration read with the key.
    expect(stdout.endsWith(expected)).toBe(true);
    expect(stdout).toContain(`"email":"${owner.email}"`);

    const browser = new Browser({ http: request(service.url) } as unknown as TestApp);
    await browser.signIn(owner);
    const keys = await browser.get('/dashboard/keys');
    expect(keys.status).toBe(200);
    expect(keys.text).toContain('laptop');
  });
});
