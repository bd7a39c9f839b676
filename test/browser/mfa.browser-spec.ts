import AxeBuilder from '@axe-core/playwright';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page, Response } from 'playwright-core';
import { totpCode } from '../../src/mfa/totp';
import { createTenant, createUser, TestUser } from '../helpers/identity';
import { createTestApp, freePort, TestApp } from '../helpers/test-app';

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

/**
 * Second factors in a real browser: a virtual authenticator (DevTools protocol, CTAP2,
 * internal transport, resident keys and user verification) stands in for a laptop's
 * platform authenticator. The site runs at http://localhost, a secure context with a valid
 * RP ID, as PUBLIC_URL says.
 */
describe('second factors in a browser', () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let owner: TestUser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const port = await freePort();
    base = `http://localhost:${port}`;
    t = await createTestApp({ listen: true, port, env: { PUBLIC_URL: base } });
    const tenant = await createTenant(t, 'Acme Robotics');
    owner = await createUser(t, tenant.id, 'owner');
    if (!existsSync(CHROMIUM))
      throw new Error(`The browser tests need Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await t?.close();
  });

  const url = (path: string) => `${base}${path}`;

  /** The strict CSP, 0 serious/critical accessibility violations, and a screenshot. */
  async function check(name: string, response?: Response | null): Promise<void> {
    if (response) {
      const csp = (await response.allHeaders())['content-security-policy'];
      expect([name, csp]).toEqual([name, expect.stringContaining("script-src 'self'")]);
      expect([name, csp]).toEqual([name, expect.stringContaining("default-src 'self'")]);
    }
    const results = await new AxeBuilder({ page }).analyze();
    const severe = results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect([name, severe]).toEqual([name, []]);
    await page.screenshot({ path: join(SCREENSHOTS, `mfa-${name}.png`), fullPage: true });
  }

  async function signInWithPassword(): Promise<void> {
    await page.goto(url('/login'));
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill(owner.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function signOut(): Promise<void> {
    await Promise.all([page.waitForURL(/\/login/), page.getByRole('button', { name: 'Sign out' }).click()]);
  }

  it('enrols an authenticator app and a passkey, then signs in with the passkey alone and as second factor', async () => {
    await signInWithPassword();
    await page.waitForURL(url('/dashboard'));

    await check('security', await page.goto(url('/dashboard/security')));
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.waitForURL(url('/dashboard/security/totp'));
    expect(await page.locator('.qr svg').isVisible()).toBe(true);
    await check('totp-enrol');
    const secret = (await page.locator('#totp-secret').textContent())!.trim();
    await page.getByLabel('Code from the app').fill(totpCode(secret, new Date()));
    await page.getByRole('button', { name: 'Turn it on' }).click();
    await page.waitForURL(url('/dashboard/security/totp/confirm'));
    expect(await page.locator('.recovery-codes li').count()).toBe(10);
    await check('recovery-codes');

    await page.goto(url('/dashboard/security'));
    await page.getByLabel('Name for the new passkey').fill('Laptop');
    await Promise.all([
      page.waitForURL(url('/dashboard/security?flash=passkey-added')),
      page.getByRole('button', { name: 'Add a passkey' }).click(),
    ]);
    expect(await page.getByRole('textbox', { name: 'Name of the passkey Laptop' }).inputValue()).toBe('Laptop');
    await check('passkey-added');

    // Passwordless: the discoverable credential on the authenticator is enough.
    await signOut();
    await check('login', await page.goto(url('/login')));
    await Promise.all([
      page.waitForURL(url('/dashboard')),
      page.getByRole('button', { name: 'Use a passkey instead' }).click(),
    ]);
    expect(await page.getByText('Acme Robotics').first().isVisible()).toBe(true);

    // Password, then the passkey as the second factor.
    await signOut();
    await signInWithPassword();
    await page.waitForURL(url('/login/mfa'));
    await check('login-mfa');
    await Promise.all([
      page.waitForURL(url('/dashboard')),
      page.getByRole('button', { name: 'Use a passkey' }).click(),
    ]);

    // The re-verify page sensitive actions send to.
    await check('step-up', await page.goto(url('/dashboard/step-up?next=/dashboard/security')));
  });
});
