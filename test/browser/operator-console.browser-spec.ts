import AxeBuilder from '@axe-core/playwright';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { Clock } from '../../src/common/clock';
import { totpCode } from '../../src/mfa/totp';
import { adminHeaders, strongPassword } from '../helpers/identity';
import { watchMail } from '../helpers/mail';
import { createTestApp, TEST_ADMIN_TOKEN, TestApp } from '../helpers/test-app';

const SCREENSHOTS = join(__dirname, 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--no-first-run',
];

/**
 * The operator's whole first day, in Chromium with JavaScript off (every step is a plain form):
 * bootstrap with the admin token, sign in at /login, create a tenant, invite its owner (who
 * accepts from the mailed link), make its first key, suspend it (its people and keys are then
 * refused) and unsuspend it.
 */
describe('operator console in a browser', () => {
  let t: TestApp;
  let browser: Browser;
  /** Where the accessibility and layout checks run (with JavaScript). */
  let axeContext: BrowserContext;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    t = await createTestApp({ listen: true });
    if (!existsSync(CHROMIUM))
      throw new Error(`The browser tests need Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    axeContext = await browser.newContext();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const url = (path: string) => `${t.url}${path}`;
  /** The first operator's password (the second test signs in as them to add another). */
  const firstPassword = strongPassword();

  /**
   * 0 serious or critical accessibility violations in both themes, no horizontal scrolling at
   * 390 px, and screenshots at 1280 and 390 px, light and dark. The flow runs with JavaScript
   * off, where axe cannot run: the checks run on a copy of the page's document in a second,
   * scripted page (at the app's origin, with its stylesheet).
   */
  async function check(page: Page, name: string): Promise<void> {
    const html = await page.content();
    const twin = await axeContext.newPage();
    // Served at the app's own origin, so its stylesheet loads as on the real page.
    await twin.route(url('/__copy'), (route) => route.fulfill({ contentType: 'text/html', body: html }));
    try {
      for (const theme of ['light', 'dark'] as const) {
        await twin.emulateMedia({ colorScheme: theme });
        for (const width of [1280, 390]) {
          await twin.setViewportSize({ width, height: 800 });
          await twin.goto(url('/__copy'));
          if (width === 1280) {
            const results = await new AxeBuilder({ page: twin }).analyze();
            const severe = results.violations
              .filter((v) => v.impact === 'serious' || v.impact === 'critical')
              .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
            expect([name, theme, severe]).toEqual([name, theme, []]);
          } else {
            // The widest elements, named, when the page scrolls sideways.
            const overflow = await twin.evaluate(`(() => {
              const root = document.documentElement;
              if (root.scrollWidth <= root.clientWidth) return 0;
              return [...document.body.querySelectorAll('*')]
                .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 1 && e.children.length === 0)
                .slice(0, 5)
                .map((e) => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40));
            })()`);
            expect([name, theme, overflow]).toEqual([name, theme, 0]);
          }
          await twin.screenshot({ path: join(SCREENSHOTS, `operator-${name}-${width}-${theme}.png`), fullPage: true });
        }
      }
    } finally {
      await twin.close();
    }
  }

  async function submit(page: Page, button: string): Promise<void> {
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: button }).click()]);
  }

  it('bootstraps, signs in, creates a tenant, invites its owner, suspends and unsuspends it', async () => {
    const mail = watchMail(t.app);
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const operator = { email: 'ops@keyward.example', password: firstPassword };

    // Bootstrap with the admin token
    await page.goto(url('/operator/bootstrap'));
    await check(page, 'bootstrap');
    await page.getByLabel('Admin token').fill(TEST_ADMIN_TOKEN);
    await page.getByLabel("Operator's email").fill(operator.email);
    await page.getByLabel("Operator's password").fill(operator.password);
    await submit(page, 'Create the operator');
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(await page.getByRole('status').textContent()).toMatch(/first operator has been created/);

    // The same sign-in as everyone
    await page.getByLabel('Email').fill(operator.email);
    await page.getByLabel('Password').fill(operator.password);
    await submit(page, 'Sign in');
    expect(new URL(page.url()).pathname).toBe('/operator/tenants');
    await check(page, 'tenants');

    // A tenant
    await page.getByLabel('Name', { exact: true }).fill('Initech');
    await submit(page, 'Create the tenant');
    const tenantPath = new URL(page.url()).pathname;
    const tenantId = tenantPath.split('/').pop()!;
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Initech');
    await check(page, 'tenant');

    // Its first owner, who accepts from the mailed link
    await page.getByLabel("Owner's email").fill('peter@initech.example');
    await submit(page, 'Send the invitation');
    expect(await page.getByRole('status').textContent()).toMatch(/invitation has been mailed/);
    await mail.delivered();
    const link = /(https?:\/\/\S+\/invite\?token=\S+)/.exec(
      mail.sent().find((m) => m.to === 'peter@initech.example')!.text,
    )![1];
    const ownerContext = await browser.newContext({ javaScriptEnabled: false });
    const ownerPage = await ownerContext.newPage();
    const ownerPassword = strongPassword();
    await ownerPage.goto(url(new URL(link).pathname + new URL(link).search));
    await ownerPage
      .getByLabel(/password/i)
      .first()
      .fill(ownerPassword);
    await Promise.all([ownerPage.waitForNavigation(), ownerPage.locator('form button[type=submit]').click()]);
    expect(new URL(ownerPage.url()).pathname).toBe('/login');
    const owner = { email: 'peter@initech.example', password: ownerPassword };
    expect((await fetch(url('/auth/login'), json(owner))).status).toBe(200);

    // Its first key, shown once
    await page.goto(url(tenantPath));
    await page.getByLabel('Key name').fill('billing');
    await page
      .getByRole('group', { name: 'Scopes', exact: true })
      .getByRole('checkbox', { name: 'config:read' })
      .check();
    await submit(page, 'Make the key');
    const key = await page.locator('#new-key').inputValue();
    await check(page, 'key-created');
    await page.reload();
    expect(await page.locator('#new-key').count()).toBe(0);
    expect((await fetch(url('/config'), { headers: { 'x-api-key': key } })).status).toBe(200);

    // Suspend, through the confirm step
    await page.goto(url(tenantPath));
    await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Suspend the tenant…' }).click()]);
    await check(page, 'suspend');
    await submit(page, 'Suspend the tenant');
    expect(await page.getByRole('status').textContent()).toMatch(/has been suspended/);
    const refused = await fetch(url('/config'), { headers: { 'x-api-key': key } });
    expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([403, 'TENANT_SUSPENDED']);
    expect((await fetch(url('/auth/login'), json(owner))).status).toBe(401);
    const status = await (await fetch(url(`/admin/tenants/${tenantId}`), { headers: adminHeaders })).json();
    expect((status as { status: string }).status).toBe('suspended');

    // Unsuspend
    await submit(page, 'Unsuspend the tenant');
    expect(await page.getByRole('status').textContent()).toMatch(/active again/);
    expect((await fetch(url('/config'), { headers: { 'x-api-key': key } })).status).toBe(200);
    expect((await fetch(url('/auth/login'), json(owner))).status).toBe(200);

    // The service-wide views
    for (const [path, name] of [
      ['/operator/audit', 'audit'],
      ['/operator/usage', 'usage'],
      ['/operator/operators', 'operators'],
    ]) {
      await page.goto(url(path));
      await check(page, name);
    }
    expect(await page.locator('body').textContent()).toContain('operator.signed_in');
    await ownerContext.close();
    await context.close();
  });
  it('signs an operator with an authenticator app in to the console after the second step', async () => {
    // The operator made by the first test adds one more.
    const db = t.app.get(DataSource);
    const [{ id: firstId }] = await db.query('SELECT id FROM people WHERE email = $1', ['ops@keyward.example']);
    const op = { email: 'ops-totp@keyward.example', password: strongPassword() };
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(url('/login'));
    await page.getByLabel('Email').fill('ops@keyward.example');
    await page.getByLabel('Password').fill(firstPassword);
    await submit(page, 'Sign in');
    await page.goto(url('/operator/operators'));
    await page.getByLabel('Email', { exact: true }).fill(op.email);
    await page.getByLabel(/first password/i).fill(op.password);
    await submit(page, 'Add the operator');
    const [{ id }] = await db.query('SELECT id FROM people WHERE email = $1 AND is_operator', [op.email]);
    expect(id).not.toBe(firstId);

    const STEP_MS = 30_000;
    let now = (Math.floor(Date.now() / STEP_MS) + 2) * STEP_MS + 10_000;
    const clock = jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => new Date(now));
    try {
      // The new operator sets up their app in the console.
      await context.clearCookies();
      await page.goto(url('/login'));
      await page.getByLabel('Email').fill(op.email);
      await page.getByLabel('Password').fill(op.password);
      await submit(page, 'Sign in');
      await page.goto(url('/operator/security'));
      await check(page, 'security');
      await submit(page, 'Set up an authenticator app');
      await check(page, 'totp-enrol');
      const secret = (await page.locator('#totp-secret').textContent())!.trim();
      await page.getByLabel('Code from the app').fill(totpCode(secret, new Date(now)));
      await submit(page, 'Turn it on');
      expect(await page.locator('.recovery-codes li').count()).toBe(10);
      await check(page, 'recovery-codes');
      now += 2 * STEP_MS;

      await context.clearCookies();
      await page.goto(url('/login'));
      await page.getByLabel('Email').fill(op.email);
      await page.getByLabel('Password').fill(op.password);
      await submit(page, 'Sign in');
      expect(new URL(page.url()).pathname).toBe('/login/mfa');
      await check(page, 'login-mfa');
      await page.getByLabel('Code from your authenticator app').fill(totpCode(secret, new Date(now)));
      await submit(page, 'Confirm');
      expect(new URL(page.url()).pathname).toBe('/operator/tenants');
      expect(await page.locator('body').textContent()).toContain(op.email);
    } finally {
      clock.mockRestore();
      await context.close();
    }
  });
});

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
