import AxeBuilder from '@axe-core/playwright';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { KeyUsageService } from '../../src/api-keys/key-usage.service';
import { OneTimeTokensService } from '../../src/auth/one-time-tokens.service';
import { listRouteAccess } from '../../src/common/auth/route-access';
import { routeKind } from '../../src/common/http/page-paths';
import { totpCode } from '../../src/mfa/totp';
import {
  adminHeaders,
  createTenant,
  createUser,
  login,
  signIn,
  SignedIn,
  strongPassword,
  TestUser,
} from '../helpers/identity';
import { createTestApp, TestApp } from '../helpers/test-app';

/**
 * Every dashboard page with a week of demo data, at a desktop and a phone width, in the light
 * and the dark theme: a screenshot of each, no horizontal scrolling of the page, no table cut off
 * at desktop width, and no serious or critical accessibility violation (axe).
 *
 * The screenshots go to test-output/screenshots/<page>-<width>-<theme>.png (git-ignored; CI
 * keeps the folder as an artifact). A GET page route of the dashboard that is in no entry of
 * PAGES fails the last test: a page added later must be added here.
 */
const OUTPUT = join(__dirname, '..', '..', 'test-output', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const WIDTHS = [1280, 390] as const;
const THEMES = ['light', 'dark'] as const;

/**
 * Who looks at the page: `mfa` has an authenticator app, `consultant` is a person in two
 * tenants, `operator` runs the service (the console at /operator).
 */
type Who = 'nobody' | 'owner' | 'viewer' | 'newcomer' | 'mfa' | 'consultant' | 'operator';
interface PageCase {
  name: string;
  /** The route pattern this page is served by (as listRouteAccess names it). */
  route: string;
  who: Who;
  /** The address; a function when it depends on the demo data. */
  path: string | (() => string);
  status?: number;
  /** Brings the page up some other way than by its address (a form's answer). */
  open?: (page: Page) => Promise<void>;
}

/** Run in the page (a string: this project's TypeScript has no DOM types). */
const MEASURE = `({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  clipped: [...document.querySelectorAll('.table-wrap')]
    .filter((wrap) => wrap.scrollWidth > wrap.clientWidth + 1)
    .map((wrap) => (wrap.querySelector('caption') || wrap.querySelector('th') || {}).textContent || '?'),
  background: getComputedStyle(document.body).backgroundColor,
})`;
interface Measured {
  scrollWidth: number;
  innerWidth: number;
  /** Tables that need their own scroll bar: fine on a phone, cut off on a desktop. */
  clipped: string[];
  background: string;
}

/** GET routes of pages that are not pages a person looks at (and why). */
const NOT_PAGES: Record<string, string> = {};

describe('every dashboard page at 1280 and 390 wide, light and dark', () => {
  let t: TestApp;
  let browser: Browser;
  const sessions: Partial<Record<Who, Awaited<ReturnType<BrowserContext['storageState']>>>> = {};
  let owner: TestUser;
  let viewer: TestUser;
  let newcomer: TestUser;
  let mfaUser: TestUser & { secret: string };
  let consultant: TestUser;
  const operator = { email: 'olga.operator@keyward.example', password: strongPassword() };
  let demo: Awaited<ReturnType<typeof seedDemo>>;
  const visited = new Set<string>();

  const url = (path: string) => `${t.url}${path}`;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`The browser tests need Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium`);
    rmSync(OUTPUT, { recursive: true, force: true });
    mkdirSync(OUTPUT, { recursive: true });
    t = await createTestApp({ listen: true });
    const tenant = await createTenant(t, 'Acme Robotics International');
    owner = await createUser(t, tenant.id, 'owner', 'olivia.owner-with-a-long-address@acme-robotics.example.com');
    viewer = await createUser(t, tenant.id, 'viewer');
    // The owner of a tenant with nothing in it yet (the overview shows the first steps).
    newcomer = await createUser(t, (await createTenant(t, 'Brand New Co')).id, 'owner');
    demo = await seedDemo(t, tenant.id, await signIn(t, owner));
    mfaUser = await withTotp(t, await createUser(t, tenant.id, 'admin', 'ada.admin@acme-robotics.example.com'));
    consultant = await personInTwoTenants(t, tenant.id);
    await t.http.post('/admin/operators').set(adminHeaders).send(operator).expect(201);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    for (const [who, user, landing] of [
      ['owner', owner, '/dashboard'],
      ['viewer', viewer, '/dashboard'],
      ['newcomer', newcomer, '/dashboard'],
      ['mfa', mfaUser, '/login/mfa'],
      ['consultant', consultant, '/dashboard/tenants'],
      ['operator', operator, '/operator/tenants'],
    ] as const) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(url('/login'));
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await Promise.all([page.waitForURL(url(landing)), page.getByRole('button', { name: 'Sign in' }).click()]);
      if (who === 'mfa') {
        // The next step's code: the current one was spent confirming the app (±1 step is accepted).
        await page
          .getByLabel('Code from your authenticator app')
          .fill(totpCode(mfaUser.secret, new Date(Date.now() + 30_000)));
        await Promise.all([page.waitForURL(url('/dashboard')), page.getByRole('button', { name: 'Confirm' }).click()]);
      }
      sessions[who] = await context.storageState();
      await context.close();
    }
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const PAGES: PageCase[] = [
    { name: 'login', route: '/login', who: 'nobody', path: '/login' },
    { name: 'forgot', route: '/forgot', who: 'nobody', path: '/forgot' },
    { name: 'reset', route: '/reset', who: 'nobody', path: () => `/reset?token=${demo.resetToken}` },
    { name: 'reset-expired', route: '/reset', who: 'nobody', path: '/reset?token=no-such-token' },
    { name: 'invite', route: '/invite', who: 'nobody', path: () => `/invite?token=${demo.inviteToken}` },
    { name: 'overview', route: '/dashboard', who: 'owner', path: '/dashboard' },
    { name: 'overview-viewer', route: '/dashboard', who: 'viewer', path: '/dashboard' },
    { name: 'overview-onboarding', route: '/dashboard', who: 'newcomer', path: '/dashboard' },
    { name: 'keys', route: '/dashboard/keys', who: 'owner', path: '/dashboard/keys' },
    { name: 'keys-viewer', route: '/dashboard/keys', who: 'viewer', path: '/dashboard/keys' },
    { name: 'key-new', route: '/dashboard/keys/new', who: 'owner', path: '/dashboard/keys/new' },
    {
      name: 'key-created',
      route: '/dashboard/keys/:id/secret',
      who: 'owner',
      path: '/dashboard/keys/new',
      open: async (page) => {
        await page.getByLabel('Name').fill('screenshot key');
        await page.getByRole('checkbox', { name: 'config:read' }).check();
        await Promise.all([
          page.waitForURL(/\/dashboard\/keys/),
          page.getByRole('button', { name: 'Create the key' }).click(),
        ]);
        await page.locator('#new-key').waitFor();
      },
    },
    {
      // A reload of the created page: the secret is gone, no key is made.
      name: 'key-secret-gone',
      route: '/dashboard/keys/:id/secret',
      who: 'owner',
      path: () => `/dashboard/keys/${demo.keyId}/secret`,
    },
    { name: 'key', route: '/dashboard/keys/:id', who: 'owner', path: () => `/dashboard/keys/${demo.keyId}` },
    {
      name: 'key-per-day',
      route: '/dashboard/keys/:id',
      who: 'owner',
      path: () => `/dashboard/keys/${demo.keyId}?usage=day`,
    },
    {
      name: 'key-rotated',
      route: '/dashboard/keys/:id',
      who: 'owner',
      path: () => `/dashboard/keys/${demo.rotatedId}`,
    },
    {
      name: 'key-revoke',
      route: '/dashboard/keys/:id/revoke',
      who: 'owner',
      path: () => `/dashboard/keys/${demo.keyId}/revoke`,
    },
    { name: 'users', route: '/dashboard/users', who: 'owner', path: '/dashboard/users' },
    {
      name: 'user-disable',
      route: '/dashboard/users/:id/disable',
      who: 'owner',
      path: () => `/dashboard/users/${demo.memberId}/disable`,
    },
    {
      name: 'user-remove',
      route: '/dashboard/users/:id/remove',
      who: 'owner',
      path: () => `/dashboard/users/${demo.memberId}/remove`,
    },
    { name: 'config', route: '/dashboard/config', who: 'owner', path: '/dashboard/config' },
    { name: 'config-edit', route: '/dashboard/config', who: 'owner', path: '/dashboard/config?edit=feature_flags' },
    {
      name: 'config-delete',
      route: '/dashboard/config/:key/delete',
      who: 'owner',
      path: '/dashboard/config/feature_flags/delete',
    },
    { name: 'audit', route: '/dashboard/audit', who: 'owner', path: '/dashboard/audit' },
    {
      name: 'audit-event',
      route: '/dashboard/audit/:id',
      who: 'owner',
      path: () => `/dashboard/audit/${demo.auditEventId}`,
    },
    { name: 'sessions', route: '/dashboard/sessions', who: 'owner', path: '/dashboard/sessions' },
    { name: 'account', route: '/dashboard/account', who: 'owner', path: '/dashboard/account' },
    { name: 'security', route: '/dashboard/security', who: 'owner', path: '/dashboard/security' },
    { name: 'security-with-app', route: '/dashboard/security', who: 'mfa', path: '/dashboard/security' },
    {
      name: 'step-up',
      route: '/dashboard/step-up',
      who: 'mfa',
      path: `/dashboard/step-up?next=${encodeURIComponent('/dashboard/config')}`,
    },
    { name: 'tenants', route: '/dashboard/tenants', who: 'consultant', path: '/dashboard/tenants' },
    {
      name: 'email-confirm',
      route: '/email/confirm',
      who: 'nobody',
      path: () => `/email/confirm?token=${demo.emailChangeToken}`,
    },
    {
      // The second sign-in step, after the password of someone with an authenticator app.
      name: 'login-mfa',
      route: '/login/mfa',
      who: 'nobody',
      path: '/login',
      open: async (page) => {
        await page.getByLabel('Email').fill(mfaUser.email);
        await page.getByLabel('Password').fill(mfaUser.password);
        await Promise.all([page.waitForURL(url('/login/mfa')), page.getByRole('button', { name: 'Sign in' }).click()]);
      },
    },
    // The operator console (its flow with JavaScript off: operator-console.browser-spec.ts).
    { name: 'operator-bootstrap', route: '/operator/bootstrap', who: 'nobody', path: '/operator/bootstrap' },
    { name: 'operator-home', route: '/operator', who: 'operator', path: '/operator' },
    { name: 'operator-tenants', route: '/operator/tenants', who: 'operator', path: '/operator/tenants' },
    {
      name: 'operator-tenant',
      route: '/operator/tenants/:id',
      who: 'operator',
      path: () => `/operator/tenants/${demo.tenantId}`,
    },
    {
      name: 'operator-suspend',
      route: '/operator/tenants/:id/suspend',
      who: 'operator',
      path: () => `/operator/tenants/${demo.tenantId}/suspend`,
    },
    {
      name: 'operator-key-created',
      route: '/operator/tenants/:id/keys/:keyId/created',
      who: 'operator',
      path: () => `/operator/tenants/${demo.tenantId}`,
      open: async (page) => {
        const form = page.locator('form[action$="/keys"]');
        await form.getByLabel('Key name').fill('fleet telemetry ingest');
        await form.getByRole('checkbox', { name: 'config:read' }).check();
        await Promise.all([
          page.waitForURL(/\/keys\/[0-9a-f-]{36}\/created$/),
          form.getByRole('button', { name: 'Make the key' }).click(),
        ]);
      },
    },
    { name: 'operator-audit', route: '/operator/audit', who: 'operator', path: '/operator/audit' },
    { name: 'operator-usage', route: '/operator/usage', who: 'operator', path: '/operator/usage' },
    { name: 'operator-operators', route: '/operator/operators', who: 'operator', path: '/operator/operators' },
    { name: 'operator-security', route: '/operator/security', who: 'operator', path: '/operator/security' },
    { name: 'error-404', route: '', who: 'owner', path: '/dashboard/no-such-page', status: 404 },
    { name: 'error-404-bad-id', route: '', who: 'owner', path: '/dashboard/keys/not-an-id', status: 404 },
    { name: 'error-404-signed-out', route: '', who: 'nobody', path: '/no-such-page', status: 404 },
    { name: 'error-403', route: '', who: 'viewer', path: '/dashboard/users', status: 403 },
  ];

  /** One page in one width and theme: screenshot, overflow and axe; problems are collected. */
  async function inspect(entry: PageCase, width: number, theme: 'light' | 'dark', problems: string[]): Promise<void> {
    const label = `${entry.name}-${width}-${theme}`;
    const context = await browser.newContext({
      viewport: { width, height: width > 600 ? 800 : 844 },
      colorScheme: theme,
      storageState: entry.who === 'nobody' ? undefined : sessions[entry.who],
    });
    try {
      const page = await context.newPage();
      const path = typeof entry.path === 'function' ? entry.path() : entry.path;
      const response = await page.goto(url(path));
      if (!entry.open && response?.status() !== (entry.status ?? 200))
        problems.push(`${label}: status ${response?.status()} at ${path}`);
      if (entry.open) await entry.open(page);
      await page.screenshot({ path: join(OUTPUT, `${label}.png`), fullPage: true });

      const layout = (await page.evaluate(MEASURE)) as Measured;
      if (layout.scrollWidth > layout.innerWidth)
        problems.push(`${label}: the page scrolls sideways (${layout.scrollWidth} > ${layout.innerWidth})`);
      if (width > 600 && layout.clipped.length)
        problems.push(`${label}: table cut off at ${width}: ${layout.clipped.join(', ')}`);
      if (theme === 'dark' && !isDark(layout.background))
        problems.push(`${label}: no dark theme (body background ${layout.background})`);

      const results = await new AxeBuilder({ page }).analyze();
      for (const violation of results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'))
        problems.push(
          `${label}: axe ${violation.id} (${violation.impact}) at ${violation.nodes.map((n) => n.target.join(' ')).join(', ')}`,
        );
      visited.add(entry.name);
    } finally {
      await context.close();
    }
  }

  it.each(PAGES.map((entry) => [entry.name, entry] as const))(
    '%s: at 1280 and 390 px, light and dark, fits, is accessible, and is photographed',
    async (_name, entry) => {
      await t.app.get(KeyUsageService).flush();
      const problems: string[] = [];
      for (const width of WIDTHS) for (const theme of THEMES) await inspect(entry, width, theme, problems);
      expect(problems).toEqual([]);
    },
  );

  it('has visited every GET page route of the dashboard', () => {
    const pageRoutes = listRouteAccess(t.app)
      .filter((route) => route.method === 'GET' && routeKind(route.path) === 'html')
      .map((route) => route.path)
      .filter((path) => !(path in NOT_PAGES));
    const listed = new Set(PAGES.map((entry) => entry.route));
    expect(pageRoutes.filter((path) => !listed.has(path))).toEqual([]);
    expect(PAGES.filter((entry) => !visited.has(entry.name)).map((entry) => entry.name)).toEqual([]);
  });
});

/** rgb(r, g, b) with a luminance below one half. */
function isDark(color: string): boolean {
  const [r, g, b] = (color.match(/\d+(\.\d+)?/g) ?? ['255', '255', '255']).map(Number);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 128;
}

/** A person who added an authenticator app (by the API), with its secret to make codes. */
async function withTotp(t: TestApp, user: TestUser): Promise<TestUser & { secret: string }> {
  const { accessToken } = await login(t, user.email, user.password);
  const bearer = { authorization: `Bearer ${accessToken}` };
  const started = await t.http.post('/auth/mfa/totp').set(bearer).expect(200);
  const secret = started.body.secret as string;
  await t.http
    .post('/auth/mfa/totp/confirm')
    .set(bearer)
    .send({ code: totpCode(secret, new Date()) })
    .expect(200);
  return { ...user, secret };
}

/** A member of the demo tenant who accepted an invitation, with the same password, to a second tenant. */
async function personInTwoTenants(t: TestApp, tenantId: string): Promise<TestUser> {
  const other = await createTenant(t, 'Globex Consulting Partners');
  const person = await createUser(t, tenantId, 'member', 'casey.consultant@globex-consulting.example.com');
  const invited = await t.http
    .post(`/admin/tenants/${other.id}/users`)
    .set(adminHeaders)
    .send({ email: person.email, role: 'admin' })
    .expect(201);
  const token = new URL(invited.body.inviteUrl).searchParams.get('token')!;
  await t.http.post('/auth/invitations/accept').send({ token, password: person.password }).expect(204);
  return person;
}

/**
 * A tenant as a week of use leaves it: people of every role (one invited, one disabled), keys
 * with long names, limits, an expiry, a rotation in its grace period and a revoked one, config
 * entries (a secret and a long JSON value), hourly usage with denials, and the audit trail of it all.
 */
async function seedDemo(t: TestApp, tenantId: string, owner: SignedIn) {
  const api = (method: 'post' | 'put' | 'patch' | 'delete', path: string, body?: object) =>
    t.http[method](path).set(owner.auth).send(body);
  await createUser(t, tenantId, 'admin');
  const member = await createUser(t, tenantId, 'member');
  const leaving = await createUser(t, tenantId, 'member', 'mallory.member@acme-robotics.example.com');
  await api('patch', `/v1/users/${leaving.id}`, { status: 'disabled' }).expect(200);
  const invited = await api('post', '/v1/users/invitations', {
    email: 'new.colleague@acme-robotics.example.com',
    role: 'member',
  }).expect(201);

  const keys: { id: string; apiKey: string }[] = [];
  for (const body of [
    {
      name: 'production backend (eu-west-1, payments and checkout)',
      scopes: ['config:read', 'keys:verify', 'config:secrets'],
      expiresInDays: 90,
      rateLimit: { limit: 600, windowSeconds: 60 },
      metadata: { team: 'payments', ticket: 'OPS-1234' },
    },
    { name: 'ci deploy', scopes: ['config:read', 'config:write'], service: true },
    { name: 'laptop', scopes: ['config:read'] },
    { name: 'old laptop', scopes: ['config:read'] },
  ])
    keys.push((await api('post', '/v1/api-keys', body).expect(201)).body);
  await api('delete', `/v1/api-keys/${keys[3].id}`).expect(204);
  const rotated = await api('post', `/v1/api-keys/${keys[2].id}/rotate`, { gracePeriodSeconds: 86_400 }).expect(201);
  keys[2] = rotated.body;

  for (const [name, value, secret] of [
    ['api_url', 'https://api.acme-robotics.example.com/v2/fleet/telemetry', false],
    [
      'feature_flags',
      { newCheckout: true, darkMode: false, fleetDashboardBeta: ['eu-west-1', 'us-east-2'], maxRobotsPerSite: 250 },
      false,
    ],
    ['max_upload_mb', 25, false],
    ['payment_api_key', 'sk_demo_3f9a1c7e5b2d4f6a8c0e', true],
  ] as const)
    await api('put', `/v1/config/entries/${name}`, secret ? { value, secret } : { value }).expect(200);

  for (let i = 0; i < 12; i++) await t.http.get('/config').set('x-api-key', keys[i % 3].apiKey);
  await t.http.get('/config').set('x-api-key', 'kw_notarealkey');
  const hourMs = 3_600_000;
  const thisHour = Math.floor(Date.now() / hourMs) * hourMs;
  const dataSource = t.app.get(DataSource);
  for (const [k, key] of keys.slice(0, 2).entries()) {
    const rows: unknown[] = [];
    for (let h = 1; h <= 7 * 24; h++) {
      const at = new Date(thisHour - h * hourMs);
      const daytime = at.getUTCHours() >= 7 && at.getUTCHours() <= 19;
      const denied = h % 17 === 0 ? { RATE_LIMITED: 3 + (h % 5) } : h % 29 === 0 ? { KEY_EXPIRED: 1 } : {};
      rows.push([key.id, at, tenantId, Math.round((daytime ? 40 : 8) / (k + 1)), JSON.stringify(denied)]);
    }
    await dataSource.query(
      `INSERT INTO key_usage (api_key_id, hour, tenant_id, success, denied)
       SELECT (r->>0)::uuid, (r->>1)::timestamptz, (r->>2)::uuid, (r->>3)::bigint, (r->>4)::jsonb
       FROM jsonb_array_elements($1::jsonb) r ON CONFLICT (api_key_id, hour) DO NOTHING`,
      [JSON.stringify(rows)],
    );
  }
  const tokens = t.app.get(OneTimeTokensService);
  const ownerRow = { id: owner.id, tenantId };
  const resetToken = await tokens.issue('password_reset', ownerRow, null);
  const inviteToken = await tokens.issue('invitation', { id: invited.body.id, tenantId }, null);
  const emailChangeToken = await tokens.issue(
    'email_change',
    ownerRow,
    owner.id,
    undefined,
    'olivia.owner@acme-robotics.example.com',
  );
  // A second session of the owner, from another browser.
  await t.http
    .post('/auth/login')
    .set('user-agent', 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148')
    .send({ email: owner.email, password: owner.password })
    .expect(200);
  const [event] = await dataSource.query(
    `SELECT id FROM audit_events WHERE tenant_id = $1 AND action = 'key.created' ORDER BY id LIMIT 1`,
    [tenantId],
  );
  return {
    keyId: keys[0].id,
    rotatedId: rotated.body.rotatedFromId ?? keys[2].id,
    memberId: member.id,
    auditEventId: String(event.id),
    tenantId,
    resetToken,
    inviteToken,
    emailChangeToken,
  };
}
