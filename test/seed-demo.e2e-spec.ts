import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { Browser } from './helpers/dashboard';
import { serviceDatabase, ServiceProcess, startService } from './helpers/service-process';
import { TestApp } from './helpers/test-app';

const SEED = join(__dirname, '..', 'scripts', 'seed-demo.js');

/** Runs `npm run seed:demo`'s script; resolves with its exit code and output (never rejects on exit code). */
function seed(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [SEED], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'development', ...env },
    timeout: 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

describe('npm run seed:demo', () => {
  let database: Awaited<ReturnType<typeof serviceDatabase>>;
  let service: ServiceProcess | undefined;
  let first: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    database = await serviceDatabase();
    first = await seed(database.env);
  });
  afterAll(async () => {
    await service?.stop();
    await database?.drop();
  });

  it('creates the demo people, prints their emails and the password once, and the owner sees keys, configuration and usage', async () => {
    expect(first).toMatchObject({ code: 0 });
    const emails = [...first.stdout.matchAll(/^\s+(owner|member|viewer)\s+(\S+@\S+)$/gm)].map((match) => [
      match[1],
      match[2],
    ]);
    expect(emails.map(([role]) => role)).toEqual(['owner', 'member', 'viewer']);
    // The password (which begins with "demo ") stands quoted on its own line, under a line that says so.
    const quoted = /^Password of all three, everything between the double quotes:\n {2}("[^"\n]+")$/m.exec(
      first.stdout,
    );
    expect(quoted).not.toBeNull();
    const password = JSON.parse(quoted![1]) as string;
    expect(password).toMatch(/^demo \S+$/);
    expect(first.stdout.split(password)).toHaveLength(2);
    const owner = { email: emails[0][1], password };

    service = await startService(database.env);
    const http = request(service.url);
    const token = (await http.post('/auth/login').send(owner).expect(200)).body.accessToken as string;
    const bearer = { authorization: `Bearer ${token}` };
    for (const [, email] of emails.slice(1)) await http.post('/auth/login').send({ email, password }).expect(200);

    const keys = (await http.get('/v1/api-keys').set(bearer).expect(200)).body;
    const items: { name: string; revokedAt: string | null }[] = Array.isArray(keys) ? keys : keys.items;
    expect(items.length).toBeGreaterThanOrEqual(4);
    expect(items.map((key) => key.name)).toEqual(expect.arrayContaining(['production backend', 'laptop']));
    const entries: { key: string; secret: boolean; value: unknown }[] = (
      await http.get('/v1/config/entries').set(bearer).expect(200)
    ).body;
    expect(entries.map((entry) => entry.key).sort()).toEqual([
      'api_url',
      'feature_flags',
      'max_upload_mb',
      'payment_api_key',
    ]);
    expect(entries.find((entry) => entry.key === 'payment_api_key')).toMatchObject({ secret: true });
    expect(JSON.stringify(entries)).not.toContain('sk_demo_');

    const week = (
      await http
        .get('/v1/usage')
        .query({ granularity: 'day', from: new Date(Date.now() - 8 * 86_400_000).toISOString() })
        .set(bearer)
        .expect(200)
    ).body;
    expect(week.totals.success).toBeGreaterThan(500);
    expect(week.totals.denied.RATE_LIMITED).toBeGreaterThan(0);
    // The requests the seed made with its keys this hour were counted by the service itself.
    const today = (await http.get('/v1/usage').query({ granularity: 'hour' }).set(bearer).expect(200)).body;
    expect(today.totals.denied.KEY_REVOKED).toBeGreaterThanOrEqual(1);

    const browser = new Browser({ http } as unknown as TestApp);
    await browser.signIn(owner);
    const page = await browser.get('/dashboard/keys');
    expect(page.status).toBe(200);
    expect(page.text).toContain('production backend');
  });

  it('refuses cleanly, changing nothing, when the demo tenant exists', async () => {
    await service?.stop();
    service = undefined;
    const again = await seed(database.env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists; nothing was changed');
    expect(again.stdout).not.toContain('password');
  });
});
