import { existsSync } from 'node:fs';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { KeyUsageService } from '../../src/api-keys/key-usage.service';
import { adminHeaders, createTenant, createUser, signIn as apiSignIn, SignedIn, TestUser } from '../helpers/identity';
import { createTestApp, TestApp } from '../helpers/test-app';

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

interface KeyDto {
  id: string;
  name: string;
  hint: string;
  status: string;
  quota: { remaining: number; refill: { amount: number; interval: string } | null } | null;
  ipAllowlist: string[] | null;
  metadata: Record<string, unknown>;
  rateLimit: { limit: number; windowSeconds: number } | null;
  expiresAt: string | null;
  permissions: string[];
  roles: string[];
}

/** The keys pages: secrets shown once, paging and search, limits set and seen, confirm steps, audit and onboarding. */
describe('keys and destructive actions in a browser', () => {
  let t: TestApp;
  let browser: Browser;
  let tenantId: string;
  let owner: TestUser;
  let ownerApi: SignedIn;
  /** Each test has a browser context of its own (JavaScript on unless a test makes one without). */
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    tenantId = (await createTenant(t, 'Keys Ltd')).id;
    await t.http
      .patch(`/admin/tenants/${tenantId}`)
      .set(adminHeaders)
      .send({ maxKeysPerTenant: 1000, maxKeysPerUser: 1000 })
      .expect(200);
    owner = await createUser(t, tenantId, 'owner');
    ownerApi = await apiSignIn(t, owner);
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
  const keyCount = async () =>
    (await t.http.get('/v1/api-keys').query({ limit: 1 }).set(ownerApi.auth).expect(200)).body.total as number;
  const apiKey = async (id: string): Promise<KeyDto> =>
    (await t.http.get(`/v1/api-keys/${id}`).set(ownerApi.auth).expect(200)).body;
  const makeKey = async (name: string, auth = ownerApi.auth): Promise<KeyDto & { apiKey: string }> =>
    (
      await t.http
        .post('/v1/api-keys')
        .set(auth)
        .send({ name, scopes: ['config:read'] })
        .expect(201)
    ).body;

  async function signIn(on: Page, user: { email: string; password: string }): Promise<void> {
    await on.goto(url('/login'));
    await on.getByLabel('Email').fill(user.email);
    await on.getByLabel('Password').fill(user.password);
    await Promise.all([on.waitForURL(url('/dashboard')), on.getByRole('button', { name: 'Sign in' }).click()]);
  }

  /** A page in a browser context with JavaScript off, signed in as the owner. */
  async function withoutJs(): Promise<Page> {
    const plain = await browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled: false });
    const on = await plain.newPage();
    await signIn(on, owner);
    return on;
  }

  it('shows a new key once: reloading the created page makes no key and does not show the secret again', async () => {
    await signIn(page, owner);
    await page.goto(url('/dashboard/keys/new'));
    await page.getByLabel('Name').fill('shown once');
    await page.getByRole('checkbox', { name: 'config:read' }).check();
    const before = await keyCount();
    await Promise.all([
      page.waitForURL(/\/dashboard\/keys\/[0-9a-f-]{36}\/secret$/),
      page.getByRole('button', { name: 'Create the key' }).click(),
    ]);
    const secret = await page.locator('#new-key').inputValue();
    expect(secret).toMatch(/^kw_[0-9A-Za-z]{49}$/);
    expect(page.url()).not.toContain(secret);
    expect(await page.locator('pre.snippet').innerText()).toContain(`x-api-key: ${secret}`);
    expect(await keyCount()).toBe(before + 1);
    expect((await config(secret)).status).toBe(200);

    const reloaded = await page.reload();
    expect(reloaded!.status()).toBe(200);
    expect(await keyCount()).toBe(before + 1);
    expect(await page.content()).not.toContain(secret);
    expect(await page.locator('#new-key').count()).toBe(0);
    await page.locator('#secret-gone').waitFor();
    // Back to the form's POST is not replayed either: the history holds the GET page.
    await page.goBack();
    await page.goForward();
    expect(await keyCount()).toBe(before + 1);
    expect(await page.content()).not.toContain(secret);

    // Rotating is the same: one new key, its secret once.
    const id = /\/dashboard\/keys\/([0-9a-f-]{36})\/secret$/.exec(page.url())![1];
    await page.goto(url(`/dashboard/keys/${id}`));
    await Promise.all([page.waitForURL(/\/secret$/), page.getByRole('button', { name: 'Rotate' }).click()]);
    await page.getByRole('heading', { name: 'Key rotated' }).waitFor();
    const rotated = await page.locator('#new-key').inputValue();
    expect(rotated).not.toBe(secret);
    expect(await keyCount()).toBe(before + 2);
    await page.reload();
    expect(await keyCount()).toBe(before + 2);
    expect(await page.content()).not.toContain(rotated);
  });

  it('pages through and searches 250 keys, with filters that apply as they change and without JavaScript', async () => {
    const tenant = (await createTenant(t, 'Many Keys Inc')).id;
    await t.http
      .patch(`/admin/tenants/${tenant}`)
      .set(adminHeaders)
      .send({ maxKeysPerTenant: 1000, maxKeysPerUser: 1000 })
      .expect(200);
    const many = await createUser(t, tenant, 'owner');
    const manyApi = await apiSignIn(t, many);
    const made: (KeyDto & { apiKey: string })[] = [];
    for (let i = 1; i <= 250; i++) made.push(await makeKey(`bulk-${String(i).padStart(4, '0')}`, manyApi.auth));
    // One rotated key: it and its successor must look different.
    const old = made[0];
    const successor = (
      await t.http
        .post(`/v1/api-keys/${old.id}/rotate`)
        .set(manyApi.auth)
        .send({ gracePeriodSeconds: 3600 })
        .expect(201)
    ).body as KeyDto;

    await signIn(page, many);
    await page.goto(url('/dashboard/keys'));
    const count = () => page.locator('#keys-count').innerText();
    const rows = () => page.locator('table.keys tbody tr');
    expect(await count()).toBe('Showing 1–25 of 251 keys');
    expect(await rows().count()).toBe(25);
    // Newest first: the successor, then bulk-0250 down.
    expect(await rows().nth(1).getByRole('link').first().innerText()).toBe('bulk-0250');
    await Promise.all([page.waitForURL(/page=2/), page.getByRole('link', { name: 'Next →' }).click()]);
    expect(await count()).toBe('Showing 26–50 of 251 keys');
    expect(await page.getByText('Page 2 of 11').count()).toBe(1);
    await page.goto(url('/dashboard/keys?page=11'));
    expect(await count()).toBe('Showing 251–251 of 251 keys');
    expect(await page.getByRole('link', { name: 'Next →' }).count()).toBe(0);
    const oldRow = rows().filter({ hasText: 'replaced by its successor' });
    expect(await oldRow.locator('.status').innerText()).toBe('rotating');
    expect(await oldRow.getByRole('link', { name: 'replaced by its successor' }).getAttribute('href')).toBe(
      `/dashboard/keys/${successor.id}`,
    );
    await page.goto(url('/dashboard/keys?page=999999999'));
    expect(await count()).toBe('Showing 1–25 of 251 keys'); // a page number out of range is ignored

    // Timestamps and hints stay on one line: each cell is one line high.
    await page.goto(url('/dashboard/keys'));
    // (a string: this project's TypeScript has no DOM types)
    const lineHeights =
      (await page.evaluate(`[...document.querySelectorAll('table.keys tbody tr:first-child td.nowrap')]
      .map((cell) => {
        // The height of what the cell holds (without its padding), in lines of the cell's text.
        const range = document.createRange();
        range.selectNodeContents(cell);
        return range.getBoundingClientRect().height / parseFloat(getComputedStyle(cell).lineHeight);
      })`)) as number[];
    expect(lineHeights.length).toBeGreaterThan(0);
    expect(lineHeights.filter((lines) => !(lines < 1.5))).toEqual([]);
    const created = page.locator('table.keys tbody tr:first-child time').first();
    expect(await created.innerText()).toMatch(/just now|min ago/);
    expect(await created.getAttribute('title')).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);

    // Search by name applies as one types (JavaScript): no button to press.
    expect(await page.getByRole('button', { name: 'Filter' }).isVisible()).toBe(false);
    await Promise.all([
      page.waitForURL(/q=bulk-0042/),
      page.getByLabel('Search by name or key start').fill('bulk-0042'),
    ]);
    expect(await count()).toBe('Showing 1–1 of 1 key');
    expect(await rows().first().getByRole('link').first().innerText()).toBe('bulk-0042');
    // By the start of the key, as printed in a log.
    const wanted = made[99];
    await page.goto(url('/dashboard/keys'));
    await Promise.all([
      page.waitForURL(/q=kw_/),
      page.getByLabel('Search by name or key start').fill(wanted.apiKey.slice(0, 12)),
    ]);
    expect(await rows().first().getByRole('link').first().innerText()).toBe(wanted.name);
    expect(await count()).toBe('Showing 1–1 of 1 key');
    // A status choice applies at once, and paging keeps the search.
    // bulk-0001 to bulk-0099, and the successor of bulk-0001 (it keeps the name).
    await page.goto(url('/dashboard/keys?q=bulk-00'));
    expect(await count()).toBe('Showing 1–25 of 100 keys');
    await Promise.all([page.waitForURL(/page=2/), page.getByRole('link', { name: 'Next →' }).click()]);
    expect(page.url()).toContain('q=bulk-00');
    expect(await count()).toBe('Showing 26–50 of 100 keys');
    await Promise.all([page.waitForURL(/status=revoked/), page.getByLabel('Status').selectOption('revoked')]);
    expect(page.url()).not.toContain('page=');
    expect(await count()).toBe('No keys match.');

    // Without JavaScript the same form works with its button.
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const off = await plain.newPage();
    await signIn(off, many);
    await off.goto(url('/dashboard/keys'));
    await off.getByLabel('Search by name or key start').fill('bulk-0007');
    await Promise.all([off.waitForURL(/q=bulk-0007/), off.getByRole('button', { name: 'Filter' }).click()]);
    expect(await off.locator('#keys-count').innerText()).toBe('Showing 1–1 of 1 key');
    await plain.close();
  });

  it('sets and sees quota, IP allowlist, metadata, rate limit and expiry on the key page', async () => {
    const key = await makeKey('limited');
    await signIn(page, owner);
    await page.goto(url(`/dashboard/keys/${key.id}`));
    expect(await page.locator('#fact-quota').innerText()).toBe('unlimited uses');
    expect(await page.locator('#fact-allowlist').innerText()).toBe('any address');

    // Mistakes come back as field errors, and nothing is saved.
    await page.getByLabel('Metadata (JSON object)').fill('{"team": "billing",}');
    await page.getByLabel('IP allowlist').fill('10.0.0.0/8\nnot-an-address');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url() === url(`/dashboard/keys/${key.id}`) && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Save' }).click(),
    ]);
    expect(refused.status()).toBe(400);
    await page.getByText('This is not valid JSON').waitFor();
    await page.getByText('Not an IP address or CIDR range: not-an-address').waitFor();
    expect(await page.getByLabel('Metadata (JSON object)').getAttribute('aria-invalid')).toBe('true');
    expect((await apiKey(key.id)).metadata).toEqual({});

    const expiry = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('Metadata (JSON object)').fill('{"team": "billing", "tier": 2}');
    await page.getByLabel('IP allowlist').fill('127.0.0.1\n10.0.0.0/8');
    await page.getByLabel('Requests').fill('50');
    await page.getByLabel('Per seconds').fill('60');
    await page.getByLabel('Uses left').fill('1000');
    await page.getByLabel('Refill to').fill('1000');
    await page.getByLabel('Refill every').selectOption('month');
    await page.getByLabel('Expires at the end of (UTC day)').fill(expiry);
    await Promise.all([page.waitForURL(/flash=key-updated/), page.getByRole('button', { name: 'Save' }).click()]);

    expect(await page.locator('#fact-quota').innerText()).toBe('1000 uses left, refilled to 1000 every month');
    expect(await page.locator('#fact-allowlist').innerText()).toBe('127.0.0.1, 10.0.0.0/8');
    expect(await page.locator('#fact-metadata').innerText()).toBe('{"team":"billing","tier":2}');
    expect(await page.locator('#fact-rate-limit').innerText()).toBe('50 requests per 60 s');
    expect(await page.locator('#fact-expiry time').getAttribute('datetime')).toBe(
      new Date(Date.parse(`${expiry}T00:00:00Z`) + 86_400_000).toISOString(),
    );
    // The form shows what is set, ready for the next change.
    expect(await page.getByLabel('Uses left').inputValue()).toBe('1000');
    expect(await page.getByLabel('Expires at the end of (UTC day)').inputValue()).toBe(expiry);
    expect(await apiKey(key.id)).toMatchObject({
      quota: { remaining: 1000, refill: { amount: 1000, interval: 'month' } },
      ipAllowlist: ['127.0.0.1', '10.0.0.0/8'],
      metadata: { team: 'billing', tier: 2 },
      rateLimit: { limit: 50, windowSeconds: 60 },
    });

    // The key still works from here (127.0.0.1 is allowed) and spends its quota; a save that
    // does not touch the quota does not give the use back.
    expect((await config(key.apiKey)).status).toBe(200);
    await page.getByLabel('Name').fill('limited and renamed');
    await Promise.all([page.waitForURL(/flash=key-updated/), page.getByRole('button', { name: 'Save' }).click()]);
    expect((await apiKey(key.id)).quota!.remaining).toBe(999);
    // An expiry can only come earlier.
    const later = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('Expires at the end of (UTC day)').fill(later);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Expiry can only be made earlier').waitFor();
  });

  it('shows and changes the permissions and roles a key carries', async () => {
    for (const name of ['orders.read', 'orders.write', 'refunds.create'])
      await t.http.post('/v1/permissions').set(ownerApi.auth).send({ name }).expect(201);
    await t.http
      .post('/v1/roles')
      .set(ownerApi.auth)
      .send({ name: 'support', permissions: ['orders.read', 'refunds.create'] })
      .expect(201);
    const key = await makeKey('granted');
    await signIn(page, owner);
    await page.goto(url(`/dashboard/keys/${key.id}`));
    expect(await page.locator('#fact-permissions').innerText()).toBe('none of its own');
    expect(await page.locator('#fact-roles').innerText()).toBe('none');
    expect(await page.locator('#fact-identity').innerText()).toBe('none');
    // The identity a key belongs to (set through the API) is named too.
    await t.http.patch(`/v1/api-keys/${key.id}`).set(ownerApi.auth).send({ externalId: 'customer-42' }).expect(200);
    await page.reload();
    expect(await page.locator('#fact-identity').innerText()).toBe('customer-42');

    // A name the tenant has not defined is refused, and nothing changes.
    await page.getByLabel('Permissions', { exact: true }).fill('orders.read\nno.such-permission');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url() === url(`/dashboard/keys/${key.id}`) && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Save' }).click(),
    ]);
    expect(refused.status()).toBe(400);
    expect(await page.locator('#f-permissions-error').innerText()).toContain('no.such-permission');
    expect(await page.getByLabel('Permissions', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await apiKey(key.id)).toMatchObject({ permissions: [], roles: [] });

    await page.getByLabel('Permissions', { exact: true }).fill('orders.write\norders.read');
    await page.getByLabel('Roles', { exact: true }).fill('support');
    await Promise.all([page.waitForURL(/flash=key-updated/), page.getByRole('button', { name: 'Save' }).click()]);
    expect(await page.locator('#fact-permissions').innerText()).toBe('orders.read, orders.write');
    expect(await page.locator('#fact-roles').innerText()).toBe('support');
    expect(await page.getByLabel('Permissions', { exact: true }).inputValue()).toBe('orders.read\norders.write');
    expect(await apiKey(key.id)).toMatchObject({ permissions: ['orders.read', 'orders.write'], roles: ['support'] });

    // Emptying both takes them away.
    await page.getByLabel('Permissions', { exact: true }).fill('');
    await page.getByLabel('Roles', { exact: true }).fill('');
    await Promise.all([page.waitForURL(/flash=key-updated/), page.getByRole('button', { name: 'Save' }).click()]);
    expect(await apiKey(key.id)).toMatchObject({ permissions: [], roles: [] });
    expect(await page.locator('#fact-permissions').innerText()).toBe('none of its own');
  });

  it('shows usage by denial code, the last use with its address, and links a key in its grace period to its successor', async () => {
    const key = await makeKey('watched');
    expect((await config(key.apiKey)).status).toBe(200);
    await t.http.patch(`/v1/api-keys/${key.id}`).set(ownerApi.auth).send({ disabled: true }).expect(200);
    for (let i = 0; i < 3; i++) expect((await config(key.apiKey)).status).toBe(403);
    await t.http.patch(`/v1/api-keys/${key.id}`).set(ownerApi.auth).send({ disabled: false }).expect(200);
    await t.app.get(KeyUsageService).flush();

    await signIn(page, owner);
    // A viewer whose clock is ten minutes slow still sees the use as just made: relative
    // times are measured against the server's clock.
    await page.clock.setFixedTime(Date.now() - 10 * 60_000);
    await page.goto(url(`/dashboard/keys/${key.id}`));
    expect(await page.locator('#denials tbody tr').allInnerTexts()).toEqual(['KEY_DISABLED\t3']);
    expect(await page.locator('#fact-last-used').innerText()).toMatch(
      /^(just now|\d+ min ago) from (::ffff:)?127\.0\.0\.1$/,
    );
    // Nor does a server clock set back since the use was stamped: what has happened is never
    // shown ahead ("in 10 min"), by the page or by its script.
    const realNow = Date.now.bind(Date);
    const setBack = jest.spyOn(Date, 'now').mockImplementation(() => realNow() - 10 * 60_000);
    try {
      await page.reload();
    } finally {
      setBack.mockRestore();
    }
    expect(await page.locator('#fact-last-used').innerText()).toMatch(/^just now from (::ffff:)?127\.0\.0\.1$/);
    expect(await page.locator('pre.snippet').innerText()).toMatch(
      /^curl -H "x-api-key: \$KEYWARD_API_KEY" http\S+\/config$/,
    );

    await page.getByLabel('Old key keeps working for').selectOption('3600');
    await Promise.all([page.waitForURL(/\/secret$/), page.getByRole('button', { name: 'Rotate' }).click()]);
    const successorId = /\/dashboard\/keys\/([0-9a-f-]{36})\/secret$/.exec(page.url())![1];
    await page.goto(url(`/dashboard/keys/${key.id}`));
    expect(await page.locator('h1 .status').innerText()).toBe('rotating');
    const link = page.locator('#successor-notice').getByRole('link', { name: 'Go to its successor' });
    expect(await link.getAttribute('href')).toBe(`/dashboard/keys/${successorId}`);
    await Promise.all([page.waitForURL(url(`/dashboard/keys/${successorId}`)), link.click()]);
    expect(await page.getByRole('link', { name: 'the previous key' }).getAttribute('href')).toBe(
      `/dashboard/keys/${key.id}`,
    );
  });

  it('asks before revoking a key: a dialog with JavaScript, a page without; cancelling changes nothing', async () => {
    const key = await makeKey('to revoke');
    await signIn(page, owner);
    await page.goto(url(`/dashboard/keys/${key.id}`));
    const dialog = page.getByRole('dialog', { name: 'Revoke “to revoke”?' });
    await page.getByRole('link', { name: 'Revoke…' }).click();
    await dialog.waitFor();
    expect(page.url()).toBe(url(`/dashboard/keys/${key.id}`));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await config(key.apiKey)).status).toBe(200);
    await page.getByRole('link', { name: 'Revoke…' }).click();
    await Promise.all([
      page.waitForURL(/flash=key-revoked/),
      dialog.getByRole('button', { name: 'Revoke the key' }).click(),
    ]);
    expect((await config(key.apiKey)).status).toBe(401);

    const other = await makeKey('to revoke without js');
    const off = await withoutJs();
    await off.goto(url(`/dashboard/keys/${other.id}`));
    await Promise.all([
      off.waitForURL(url(`/dashboard/keys/${other.id}/revoke`)),
      off.getByRole('link', { name: 'Revoke…' }).click(),
    ]);
    expect((await config(other.apiKey)).status).toBe(200);
    await Promise.all([
      off.waitForURL(/flash=key-revoked/),
      off.getByRole('button', { name: 'Revoke the key' }).click(),
    ]);
    expect((await config(other.apiKey)).status).toBe(401);
    await off.context().close();
  });

  it('asks before disabling a user, saying their keys are revoked; then revokes them', async () => {
    const people = [await createUser(t, tenantId, 'member'), await createUser(t, tenantId, 'member')];
    const keys = [];
    for (const person of people) keys.push(await makeKey('theirs', (await apiSignIn(t, person)).auth));

    await signIn(page, owner);
    await page.goto(url('/dashboard/users'));
    await page.getByRole('link', { name: `Disable… ${people[0].email}` }).click();
    const dialog = page.getByRole('dialog', { name: `Disable ${people[0].email}?` });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('Every API key they own is revoked, for good');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await config(keys[0].apiKey)).status).toBe(200);
    await page.getByRole('link', { name: `Disable… ${people[0].email}` }).click();
    await Promise.all([
      page.waitForURL(/flash=user-updated/),
      dialog.getByRole('button', { name: 'Disable and revoke their keys' }).click(),
    ]);
    expect((await config(keys[0].apiKey)).status).toBe(401);

    const off = await withoutJs();
    await off.goto(url('/dashboard/users'));
    await Promise.all([
      off.waitForURL(url(`/dashboard/users/${people[1].id}/disable`)),
      off.getByRole('link', { name: `Disable… ${people[1].email}` }).click(),
    ]);
    expect(await off.locator('main').innerText()).toContain('Every API key they own is revoked, for good');
    expect((await config(keys[1].apiKey)).status).toBe(200);
    await Promise.all([
      off.waitForURL(/flash=user-updated/),
      off.getByRole('button', { name: 'Disable and revoke their keys' }).click(),
    ]);
    expect((await config(keys[1].apiKey)).status).toBe(401);
    await off.context().close();
  });

  it('asks before removing someone from the tenant, saying their keys here are revoked; then removes them', async () => {
    const people = [await createUser(t, tenantId, 'member'), await createUser(t, tenantId, 'member')];
    const keys = [];
    for (const person of people) keys.push(await makeKey('theirs', (await apiSignIn(t, person)).auth));

    await signIn(page, owner);
    await page.goto(url('/dashboard/users'));
    const link = (email: string) => `Remove… ${email} from the tenant`;
    await page.getByRole('link', { name: link(people[0].email) }).click();
    const dialog = page.getByRole('dialog', { name: `Remove ${people[0].email} from the tenant?` });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('every API key they own in this tenant is revoked, for good');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await config(keys[0].apiKey)).status).toBe(200);
    await page.getByRole('link', { name: link(people[0].email) }).click();
    await Promise.all([
      page.waitForURL(/flash=user-removed/),
      dialog.getByRole('button', { name: 'Remove from the tenant' }).click(),
    ]);
    expect((await config(keys[0].apiKey)).status).toBe(401);

    const off = await withoutJs();
    await off.goto(url('/dashboard/users'));
    await Promise.all([
      off.waitForURL(url(`/dashboard/users/${people[1].id}/remove`)),
      off.getByRole('link', { name: link(people[1].email) }).click(),
    ]);
    expect(await off.locator('main').innerText()).toContain(
      'every API key they own in this tenant is revoked, for good',
    );
    expect((await config(keys[1].apiKey)).status).toBe(200);
    await Promise.all([
      off.waitForURL(/flash=user-removed/),
      off.getByRole('button', { name: 'Remove from the tenant' }).click(),
    ]);
    expect((await config(keys[1].apiKey)).status).toBe(401);
    await off.context().close();
  });

  it('asks before deleting a configuration entry, with and without JavaScript', async () => {
    const entries = async () =>
      ((await t.http.get('/v1/config/entries').set(ownerApi.auth).expect(200)).body as { key: string }[]).map(
        (entry) => entry.key,
      );
    for (const name of ['doomed.one', 'doomed.two'])
      await t.http.put(`/v1/config/entries/${name}`).set(ownerApi.auth).send({ value: 1 }).expect(200);
    await signIn(page, owner);
    await page.goto(url('/dashboard/config'));
    await page.getByRole('link', { name: 'Delete… doomed.one' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete doomed.one?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await entries()).toContain('doomed.one');
    await page.getByRole('link', { name: 'Delete… doomed.one' }).click();
    await Promise.all([
      page.waitForURL(/flash=config-deleted/),
      dialog.getByRole('button', { name: 'Delete the entry' }).click(),
    ]);
    expect(await entries()).not.toContain('doomed.one');

    const off = await withoutJs();
    await off.goto(url('/dashboard/config'));
    await Promise.all([
      off.waitForURL(url('/dashboard/config/doomed.two/delete')),
      off.getByRole('link', { name: 'Delete… doomed.two' }).click(),
    ]);
    expect(await entries()).toContain('doomed.two');
    await Promise.all([
      off.waitForURL(/flash=config-deleted/),
      off.getByRole('button', { name: 'Delete the entry' }).click(),
    ]);
    expect(await entries()).not.toContain('doomed.two');
    await off.context().close();
  });

  it('refuses invalid JSON in a configuration value with a field error, and saves nothing', async () => {
    await signIn(page, owner);
    await page.goto(url('/dashboard/config'));
    await page.getByLabel('Key', { exact: true }).fill('limits');
    await page.getByLabel('Value').fill('{"rps": 5,}');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === url('/dashboard/config') && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Save' }).click(),
    ]);
    expect(response.status()).toBe(400);
    await page.locator('#f-value-error').waitFor();
    expect(await page.locator('#f-value-error').innerText()).toContain('This is not valid JSON');
    expect(await page.getByLabel('Value').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByLabel('Value').inputValue()).toBe('{"rps": 5,}');
    const saved = (await t.http.get('/v1/config/entries').set(ownerApi.auth).expect(200)).body as { key: string }[];
    expect(saved.map((entry) => entry.key)).not.toContain('limits');

    // Fixed, it is stored as JSON; chosen as plain text, the same characters are a string.
    await page.getByLabel('Value').fill('{"rps": 5}');
    await Promise.all([page.waitForURL(/flash=config-saved/), page.getByRole('button', { name: 'Save' }).click()]);
    await page.getByLabel('Key', { exact: true }).fill('limits.text');
    await page.getByLabel('Value').fill('{"rps": 5,}');
    await page.getByRole('radio', { name: 'Plain text' }).check();
    await Promise.all([page.waitForURL(/flash=config-saved/), page.getByRole('button', { name: 'Save' }).click()]);
    const doc = await (
      await fetch(url('/config'), { headers: { 'x-api-key': (await makeKey('reader')).apiKey } })
    ).json();
    expect(doc).toMatchObject({ limits: { rps: 5 }, 'limits.text': '{"rps": 5,}' });
  });

  it('names keys in the audit log, shows an event in full, and fits the table at 1280 wide', async () => {
    const key = await makeKey('audited by name');
    await t.http
      .patch(`/v1/api-keys/${key.id}`)
      .set(ownerApi.auth)
      .set('user-agent', 'audit-view/1')
      .send({ name: 'audited, renamed' })
      .expect(200);
    await signIn(page, owner);
    await page.goto(url('/dashboard/audit?action=key.updated'));
    const row = page.locator('table.events tbody tr').first();
    expect(await row.innerText()).toContain('key “audited, renamed”');
    expect(await row.innerText()).not.toContain('API key');
    const time = row.locator('time');
    expect(await time.getAttribute('datetime')).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(await time.innerText()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    const wrap = await page.$eval('.table-wrap:has(table.events)', (el) => [el.scrollWidth, el.clientWidth]);
    expect(wrap[0]).toBeLessThanOrEqual(wrap[1]);

    await Promise.all([
      page.waitForURL(/\/dashboard\/audit\/\d+$/),
      row.getByRole('link', { name: /Details/ }).click(),
    ]);
    const facts = await page.locator('dl.facts').innerText();
    expect(facts).toContain('key.updated');
    expect(facts).toContain('audit-view/1');
    expect(facts).toMatch(/127\.0\.0\.1/);
    expect(facts).toContain('"fields"');
    expect((await page.goto(url('/dashboard/audit/999999999')))!.status()).toBe(404);
  });

  it('shows an empty tenant where to start, and an invitation whom it is for', async () => {
    const empty = await createTenant(t, 'Empty Start Co');
    const starter = await createUser(t, empty.id, 'owner');
    await signIn(page, starter);
    const start = page.locator('.onboarding');
    expect(await start.getByRole('link', { name: 'Create your first API key' }).getAttribute('href')).toBe(
      '/dashboard/keys/new',
    );
    expect(await start.locator('pre.snippet').innerText()).toContain('x-api-key');
    await makeKey('first', (await apiSignIn(t, starter)).auth);
    await page.reload();
    expect(await page.locator('.onboarding').count()).toBe(0);

    const invited = await t.http
      .post(`/admin/tenants/${empty.id}/users`)
      .set(adminHeaders)
      .send({ email: 'newcomer@example.com', role: 'admin' })
      .expect(201);
    const guest = await browser.newContext();
    const invite = await guest.newPage();
    await invite.goto(invited.body.inviteUrl.replace(/^https?:\/\/[^/]+/, t.url));
    expect(await invite.locator('#invitation').innerText()).toBe(
      'You are invited to Empty Start Co as admin, with the email newcomer@example.com. Choose your password to join.',
    );
    await guest.close();
  });
});
