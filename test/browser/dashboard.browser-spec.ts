import AxeBuilder from '@axe-core/playwright';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page, Response } from 'playwright-core';
import { KeyUsageService } from '../../src/api-keys/key-usage.service';
import { createTenant, createUser, TestUser } from '../helpers/identity';
import { createTestApp, TestApp } from '../helpers/test-app';

const SCREENSHOTS = join(__dirname, 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

describe('dashboard in a browser', () => {
  let t: TestApp;
  let browser: Browser;
  let tenantId: string;
  let owner: TestUser;
  let viewer: TestUser;
  /** Each test has a browser context of its own: no cookie or storage carries over. */
  let context: BrowserContext;
  let page: Page;
  /** Every page checked so far (headers, accessibility, screenshot). */
  const checked: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    t = await createTestApp({ listen: true });
    tenantId = (await createTenant(t, 'Acme Robotics')).id;
    owner = await createUser(t, tenantId, 'owner');
    viewer = await createUser(t, tenantId, 'viewer');
    if (!existsSync(CHROMIUM))
      throw new Error(`The browser tests need Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const url = (path: string) => `${t.url}${path}`;
  const config = (key: string) => fetch(url('/config'), { headers: { 'x-api-key': key } });

  /** Security headers, 0 serious/critical accessibility violations, and a screenshot. */
  async function check(on: Page, response: Response | null, name: string, status = 200): Promise<void> {
    expect(response).not.toBeNull();
    expect([name, response!.status()]).toEqual([name, status]);
    const headers = await response!.allHeaders();
    const csp = headers['content-security-policy'];
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "frame-ancestors 'none'",
      "object-src 'none'",
      "base-uri 'none'",
    ])
      expect([name, csp]).toEqual([name, expect.stringContaining(directive)]);
    expect(headers['x-content-type-options']).toBe('nosniff');
    // Pages reached through a mailed link with a token send no Referer at all.
    expect([name, headers['referrer-policy']]).toEqual([
      name,
      ['reset', 'invite'].includes(name) ? 'no-referrer' : 'same-origin',
    ]);
    expect(headers['cache-control']).toBe('no-store');
    const results = await new AxeBuilder({ page: on }).analyze();
    const severe = results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect([name, severe]).toEqual([name, []]);
    await on.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    checked.push(name);
  }

  async function visit(path: string, name: string, status = 200, on = page): Promise<void> {
    await check(on, await on.goto(url(path)), name, status);
  }

  async function signIn(on: Page, user: { email: string; password: string }): Promise<void> {
    await on.goto(url('/login'));
    await on.getByLabel('Email').fill(user.email);
    await on.getByLabel('Password').fill(user.password);
    await Promise.all([on.waitForURL(url('/dashboard')), on.getByRole('button', { name: 'Sign in' }).click()]);
  }

  async function createKey(name: string): Promise<{ id: string; key: string }> {
    await page.goto(url('/dashboard/keys/new'));
    await page.getByLabel('Name').fill(name);
    await page.getByRole('checkbox', { name: 'config:read' }).check();
    // Post/redirect/get: the secret is shown by the page the POST redirects to.
    const [response] = await Promise.all([
      page.waitForResponse((r) => /\/dashboard\/keys\/[0-9a-f-]{36}\/secret$/.test(r.url())),
      page.getByRole('button', { name: 'Create the key' }).click(),
    ]);
    await page.waitForLoadState();
    await check(page, response, 'key-created');
    const key = await page.locator('#new-key').inputValue();
    const id = /\/dashboard\/keys\/([0-9a-f-]{36})/.exec(
      (await page.getByRole('link', { name: 'Go to the key' }).getAttribute('href'))!,
    )![1];
    return { id, key };
  }

  it('shows the public pages with headers, accessibility and screenshots', async () => {
    await visit('/login', 'login');
    await visit('/forgot', 'forgot');
    await visit('/reset?token=abc', 'reset');
    await visit('/invite?token=abc', 'invite');
  });

  it('signs in with a HttpOnly, SameSite=Lax cookie', async () => {
    await page.goto(url('/login'));
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill('wrong password entirely');
    const [failed] = await Promise.all([
      page.waitForResponse((r) => r.url() === url('/login') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await expectText(page, 'Invalid email or password.');
    await check(page, failed, 'login-error', 401);
    expect(await page.getByLabel('Password').inputValue()).toBe('');

    await signIn(page, owner);
    const cookie = (await context.cookies()).find((c) => c.name === 'kw_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
    await visit('/dashboard', 'overview');
    await expectText(page, 'Acme Robotics');
  });

  it('creates a key shown once, which works until it is revoked in the page', async () => {
    await signIn(page, owner);
    await visit('/dashboard/keys/new', 'key-new');
    const { id, key } = await createKey('deploy bot');
    expect(key).toMatch(/^kw_[0-9A-Za-z]{49}$/);
    // The copy button is the one piece that needs JavaScript: it appears once the script ran.
    expect(await page.getByRole('button', { name: 'Copy' }).isVisible()).toBe(true);

    const res = await config(key);
    expect(res.status).toBe(200);

    await t.app.get(KeyUsageService).flush();
    await visit(`/dashboard/keys/${id}`, 'key');
    expect(await page.content()).not.toContain(key);
    expect(await page.getByRole('img', { name: /per hour, last 48 hours/ }).count()).toBe(1);
    await visit(`/dashboard/keys/${id}?usage=day`, 'key-usage-day');
    expect(await page.getByRole('img', { name: /per day, last 30 days/ }).count()).toBe(1);
    await visit('/dashboard/keys', 'keys');
    expect(await page.content()).not.toContain(key);

    // The confirm step as a page (what the "Revoke…" link opens without JavaScript).
    await visit(`/dashboard/keys/${id}/revoke`, 'key-revoke');
    await Promise.all([
      page.waitForURL(/flash=key-revoked/),
      page.getByRole('button', { name: 'Revoke the key' }).click(),
    ]);
    await expectText(page, 'The key has been revoked');
    const refused = await config(key);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe('KEY_REVOKED');
  });

  it('rotates a key: the new one works, the old one stops when no grace is chosen', async () => {
    await signIn(page, owner);
    const { id, key: oldKey } = await createKey('rotating bot');
    await page.goto(url(`/dashboard/keys/${id}`));
    await page.getByLabel('Old key keeps working for').selectOption('0');
    await page.getByRole('button', { name: 'Rotate' }).click();
    await expectText(page, 'Key rotated');
    const newKey = await page.locator('#new-key').inputValue();
    expect(newKey).not.toBe(oldKey);
    expect((await config(newKey)).status).toBe(200);
    expect((await config(oldKey)).status).toBe(401);
  });

  it('refuses a form posted from a page on another origin, and nothing changes', async () => {
    await signIn(page, owner);
    const { id, key } = await createKey('target of a forged form');
    const attacker = await serve(`<!doctype html><html><body>
      <form id="f" method="post" action="${url(`/dashboard/keys/${id}/revoke`)}"><input type="hidden" name="x" value="1"></form>
      <script>document.getElementById('f').submit()</script></body></html>`);
    try {
      const evil = await context.newPage();
      const [response] = await Promise.all([
        evil.waitForResponse((r) => r.url().endsWith(`/dashboard/keys/${id}/revoke`)),
        evil.goto(`http://localhost:${(attacker.address() as AddressInfo).port}/`),
      ]);
      // Without the session cookie (SameSite=Lax) the page sends the browser to sign in; with it, the missing token is refused.
      expect([303, 403]).toContain(response.status());
      await evil.close();
    } finally {
      attacker.close();
    }
    expect((await config(key)).status).toBe(200);
  });

  it('lists sessions and signs out the others', async () => {
    await signIn(page, owner);
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await signIn(otherPage, owner);
    await visit('/dashboard/sessions', 'sessions');
    await Promise.all([
      page.waitForURL(/flash=sessions-revoked/),
      page.getByRole('button', { name: 'Sign out everywhere else' }).click(),
    ]);
    await otherPage.goto(url('/dashboard'));
    expect(otherPage.url()).toBe(url('/login'));
    await other.close();
  });

  it('shows the users and configuration pages to an owner', async () => {
    await signIn(page, owner);
    await visit('/dashboard/users', 'users');
    await page.goto(url('/dashboard/config'));
    await page.getByLabel('Key', { exact: true }).fill('feature.flag');
    await page.getByLabel('Value').fill('true');
    await Promise.all([page.waitForURL(/flash=config-saved/), page.getByRole('button', { name: 'Save' }).click()]);
    await visit('/dashboard/config', 'config');
    await expectText(page, 'feature.flag');

    // A secret is masked until revealed; the reveal shows it on that page only.
    await page.getByLabel('Key', { exact: true }).fill('smtp.password');
    await page.getByLabel('Value').fill('"sparrow-lantern-91"');
    await page.getByRole('checkbox', { name: /Secret/ }).check();
    await Promise.all([page.waitForURL(/flash=config-saved/), page.getByRole('button', { name: 'Save' }).click()]);
    expect(await page.content()).not.toContain('sparrow-lantern-91');
    const [revealed] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/reveal')),
      page.getByRole('button', { name: 'Reveal smtp.password' }).click(),
    ]);
    await page.waitForLoadState();
    await check(page, revealed, 'config-revealed');
    await expectText(page, 'sparrow-lantern-91');
  });

  it('shows the overview chart and recent events, and the audit log with its chain check', async () => {
    await signIn(page, owner);
    await visit('/dashboard', 'overview-activity');
    expect(await page.getByRole('img', { name: /last 7 days/ }).count()).toBe(1);
    await expectText(page, 'Recent audit events');
    await visit('/dashboard/audit', 'audit');
    await expectText(page, 'Chain verified');
    await page.getByLabel('Action').fill('config.secret_revealed');
    await Promise.all([
      page.waitForURL(/action=config.secret_revealed/),
      page.getByRole('button', { name: 'Filter' }).click(),
    ]);
    await expectText(page, 'config.secret_revealed');
    expect(await page.locator('tbody tr').count()).toBe(1);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download CSV' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('audit-events.csv');
  });

  it('changes the password, then signs out; the old cookie is refused', async () => {
    // A user of its own, so the owner's password stays what the other tests sign in with.
    const changer = await createUser(t, tenantId, 'owner');
    await signIn(page, changer);
    await visit('/dashboard/account', 'account');
    const newPassword = 'copper meadow 42 drifting kites';
    await page.getByLabel('Current password').fill(changer.password);
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('New password again').fill(newPassword);
    await Promise.all([
      page.waitForURL(/flash=password-changed/),
      page.getByRole('button', { name: 'Change the password' }).click(),
    ]);

    const oldCookie = (await context.cookies()).find((c) => c.name === 'kw_session')!;
    await Promise.all([page.waitForURL(/\/login/), page.getByRole('button', { name: 'Sign out' }).click()]);
    const stale = await fetch(url('/dashboard'), {
      headers: { cookie: `kw_session=${oldCookie.value}` },
      redirect: 'manual',
    });
    expect(stale.status).toBe(303);
    expect(stale.headers.get('location')).toBe('/login');
    await context.addCookies([oldCookie]);
    await page.goto(url('/dashboard'));
    expect(page.url()).toBe(url('/login'));

    await signIn(page, { email: changer.email, password: newPassword });
  });

  it('gives a viewer no link to, and a 403 page for, what the role may not see', async () => {
    await signIn(page, viewer);
    expect(await page.getByRole('link', { name: 'Users' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Configuration' }).count()).toBe(0);
    await visit('/dashboard/users', 'viewer-users-403', 403);
    await visit('/dashboard/config', 'viewer-config-403', 403);
    await visit('/dashboard/keys/new', 'viewer-key-new-403', 403);
    await visit('/dashboard/audit', 'viewer-audit-403', 403);
    expect(await page.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    await visit('/dashboard/keys', 'viewer-keys', 200);
  });

  it('checked every page', () => {
    expect(checked).toEqual(
      expect.arrayContaining([
        'login',
        'forgot',
        'reset',
        'invite',
        'overview',
        'key-new',
        'key-created',
        'key',
        'keys',
        'key-revoke',
        'sessions',
        'users',
        'config',
        'config-revealed',
        'overview-activity',
        'audit',
        'key-usage-day',
        'account',
        'viewer-users-403',
        'viewer-audit-403',
      ]),
    );
  });
});

async function expectText(page: Page, text: string): Promise<void> {
  await page.getByText(text).first().waitFor({ timeout: 10_000 });
}

/** A page on another origin (localhost rather than 127.0.0.1: another site). */
async function serve(html: string): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
