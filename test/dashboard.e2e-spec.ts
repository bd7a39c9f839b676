import { DataSource } from 'typeorm';
import { KeyUsageService } from '../src/api-keys/key-usage.service';
import { AuditService } from '../src/audit/audit.service';
import { OneTimeTokensService } from '../src/auth/one-time-tokens.service';
import { PASSWORD_HINT, PASSWORD_MAX, PASSWORD_MIN, PASSWORD_RECOMMENDED } from '../src/auth/password.service';
import { Browser, setCookieLine, shownKey } from './helpers/dashboard';
import { adminHeaders, createTenant, createUser, TestTenant, TestUser } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

const PAGES_SIGNED_IN = [
  '/dashboard',
  '/dashboard/keys',
  '/dashboard/keys/new',
  '/dashboard/users',
  '/dashboard/config',
  '/dashboard/audit',
  '/dashboard/sessions',
  '/dashboard/account',
];
const PAGES_PUBLIC = ['/login', '/forgot', '/reset', '/invite'];
/** Pages reached through a mailed link with a token: no Referer may ever leave them. */
const TOKEN_PAGES = ['/reset', '/invite'];

describe('dashboard pages', () => {
  let t: TestApp;
  let tenant: TestTenant;
  let owner: TestUser;
  let viewer: TestUser;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t, '<script>alert("tenant")</script>');
    owner = await createUser(t, tenant.id, 'owner');
    viewer = await createUser(t, tenant.id, 'viewer');
  });
  afterAll(() => t.close());

  /** Creates a key through the form and returns its id and full value. */
  async function createKey(browser: Browser, name = 'deploy bot'): Promise<{ id: string; key: string }> {
    await browser.get('/dashboard/keys/new');
    const res = await browser.post('/dashboard/keys', { name, scopes: ['config:read', 'keys:read'] });
    // Post/redirect/get: the secret is shown by the page the POST sends the browser to.
    expect(res.status).toBe(303);
    const id = /^\/dashboard\/keys\/([0-9a-f-]{36})\/secret$/.exec(res.headers.location)![1];
    return { id, key: shownKey((await browser.get(res.headers.location)).text) };
  }

  const config = (key: string) => t.http.get('/config').set('x-api-key', key);

  it('signs in with a HttpOnly, SameSite=Lax session cookie on Path=/, a new session each time', async () => {
    const browser = new Browser(t);
    const first = await browser.signIn(owner);
    const line = setCookieLine(first, 'kw_session')!;
    expect(line).toMatch(/; Path=\//);
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; SameSite=Lax/);
    expect(line).not.toMatch(/Secure/);
    expect(first.headers.location).toBe('/dashboard');
    const oldToken = browser.cookies.get('kw_session')!;

    await browser.signIn(owner);
    expect(browser.cookies.get('kw_session')).not.toBe(oldToken);
    const stale = await t.http.get('/dashboard').set('cookie', `kw_session=${oldToken}`);
    expect(stale.status).toBe(303);
    expect(stale.headers.location).toBe('/login');
    expect((await browser.get('/dashboard')).status).toBe(200);
    // Each sign-in is in the audit trail, like one through the API.
    const events = await t.app
      .get(DataSource)
      .query(
        "SELECT actor_id, metadata FROM audit_events WHERE tenant_id = $1 AND action = 'auth.login' AND target_id = $2",
        [tenant.id, owner.id],
      );
    expect(events.filter((event: { metadata: { via?: string } }) => event.metadata.via === 'dashboard')).toHaveLength(
      2,
    );
  });

  it('gives one message for a wrong password and an unknown email, keeps the email, never the password', async () => {
    const browser = new Browser(t);
    await browser.get('/login');
    const wrong = await browser.post('/login', { email: owner.email, password: 'not the password at all' });
    const unknown = await browser.post('/login', { email: 'nobody@example.com', password: 'not the password at all' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const message = (html: string) => /role="alert">([^<]*)</.exec(html)![1];
    expect(message(wrong.text)).toBe(message(unknown.text));
    expect(wrong.text).toContain(`value="${owner.email}"`);
    expect(wrong.text).not.toContain('not the password at all');
    expect(setCookieLine(wrong, 'kw_session')).toBeUndefined();
  });

  it('after sign-out the old cookie gives the login page', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    const token = browser.cookies.get('kw_session')!;
    await browser.get('/dashboard');
    const out = await browser.post('/logout');
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/login?flash=signed-out');
    expect(browser.cookies.has('kw_session')).toBe(false);
    const again = await t.http.get('/dashboard/keys').set('cookie', `kw_session=${token}`);
    expect(again.status).toBe(303);
    expect(again.headers.location).toBe('/login');
  });

  it('refuses a form post with a missing or foreign CSRF token (403 page) and changes nothing', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    const { id, key } = await createKey(browser);
    const other = new Browser(t);
    await other.get('/login');

    for (const token of [null, other.csrf, 'forged']) {
      const res = await browser.post(`/dashboard/keys/${id}/revoke`, { _csrf: token });
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.text).toContain('did not come from this site');
    }
    expect((await config(key)).status).toBe(200);

    // Without a token, sign-in itself is refused too.
    const login = await other.post('/login', { email: owner.email, password: owner.password, _csrf: null });
    expect(login.status).toBe(403);
    expect(setCookieLine(login, 'kw_session')).toBeUndefined();

    // An API route reached with the cookie needs the token as well.
    const api = await t.http.delete(`/v1/api-keys/${id}`).set('cookie', browser.cookieHeader);
    expect(api.status).toBe(403);
    expect((await config(key)).status).toBe(200);
    const withToken = await t.http
      .delete(`/v1/api-keys/${id}`)
      .set('cookie', browser.cookieHeader)
      .set('x-csrf-token', browser.csrf);
    expect(withToken.status).toBe(204);
    expect((await config(key)).body.code).toBe('KEY_REVOKED');
  });

  it('binds the CSRF token to the session: a token from before sign-in, from another session or from before sign-out is refused', async () => {
    const browser = new Browser(t);
    await browser.get('/login');
    const beforeSignIn = { csrf: browser.csrf, secret: browser.cookies.get('kw_csrf')! };
    const signedIn = await browser.signIn(owner);
    // Sign-in drops the CSRF secret; the next page makes a new one.
    expect(setCookieLine(signedIn, 'kw_csrf')).toMatch(/Expires=Thu, 01 Jan 1970/);
    const { id, key } = await createKey(browser);
    expect(browser.cookies.get('kw_csrf')).not.toBe(beforeSignIn.secret);
    const current = { csrf: browser.csrf, secret: browser.cookies.get('kw_csrf')! };
    const revoke = (cookie: string, token: string) =>
      t.http.post(`/dashboard/keys/${id}/revoke`).set('cookie', cookie).type('form').send({ _csrf: token });
    const session = `kw_session=${browser.cookies.get('kw_session')}`;

    // The pre-sign-in pair (token and its own cookie) no longer works with the new session.
    expect((await revoke(`${session}; kw_csrf=${beforeSignIn.secret}`, beforeSignIn.csrf)).status).toBe(403);
    // This browser's pair does not work with another session of the same user.
    const second = new Browser(t);
    await second.signIn(owner);
    expect(
      (await revoke(`kw_session=${second.cookies.get('kw_session')}; kw_csrf=${current.secret}`, current.csrf)).status,
    ).toBe(403);
    expect((await config(key)).status).toBe(200);

    // Sign-out drops the CSRF secret with the session.
    await browser.get('/dashboard');
    const out = await browser.post('/logout');
    expect(setCookieLine(out, 'kw_csrf')).toMatch(/Expires=Thu, 01 Jan 1970/);
    // And the pair still works where it belongs (so the refusals above are about the binding).
    const owned = new Browser(t);
    await owned.signIn(owner);
    await owned.get('/dashboard/keys');
    expect(
      (
        await t.http
          .post(`/dashboard/keys/${id}/revoke`)
          .set('cookie', owned.cookieHeader)
          .type('form')
          .send({ _csrf: owned.csrf, confirm: 'yes' })
      ).status,
    ).toBe(303);
    expect((await config(key)).body.code).toBe('KEY_REVOKED');
  });

  it('changes nothing on GET: the revoke link asks for confirmation, GET /logout does not sign out', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    const { id, key } = await createKey(browser);
    const confirm = await browser.get(`/dashboard/keys/${id}/revoke`);
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('Revoke the key');
    expect((await config(key)).status).toBe(200);
    expect((await browser.get('/logout')).status).toBe(404);
    expect((await browser.get('/dashboard')).status).toBe(200);

    // A post without the confirm step's field asks first, and revokes nothing.
    const unconfirmed = await browser.post(`/dashboard/keys/${id}/revoke`);
    expect([unconfirmed.status, unconfirmed.headers.location]).toEqual([303, `/dashboard/keys/${id}/revoke`]);
    expect((await config(key)).status).toBe(200);
    await browser.post(`/dashboard/keys/${id}/revoke`, { confirm: 'yes' });
    expect((await config(key)).status).toBe(401);
  });

  it('sends the security headers on every page, and no-store on signed-in pages', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    for (const path of [...PAGES_PUBLIC, ...PAGES_SIGNED_IN, '/dashboard/nowhere']) {
      const res = await browser.get(path);
      const csp = res.headers['content-security-policy'];
      expect([path, csp]).toEqual([path, expect.stringContaining("script-src 'self'")]);
      for (const directive of [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
      ])
        expect(csp).toContain(directive);
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect([path, res.headers['referrer-policy']]).toEqual([
        path,
        TOKEN_PAGES.includes(path) ? 'no-referrer' : 'same-origin',
      ]);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-type']).toMatch(/^text\/html/);
    }
    const css = await t.http.get('/static/dashboard.css');
    expect(css.status).toBe(200);
    expect(css.headers['x-content-type-options']).toBe('nosniff');
    // The JSON API and the API docs keep working as before.
    expect((await t.http.get('/health')).headers['content-security-policy']).toBeUndefined();
    const docs = await t.http.get('/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers['content-security-policy']).toBeUndefined();
  });

  it('answers 403 with the error page on pages a viewer may not see, and does not link them', async () => {
    const browser = new Browser(t);
    await browser.signIn(viewer);
    const overview = await browser.get('/dashboard');
    expect(overview.text).not.toContain('href="/dashboard/users"');
    expect(overview.text).not.toContain('href="/dashboard/config"');
    expect(overview.text).not.toContain('href="/dashboard/keys/new"');
    expect(overview.text).not.toContain('href="/dashboard/audit"');
    for (const path of ['/dashboard/users', '/dashboard/config', '/dashboard/audit', '/dashboard/keys/new']) {
      const res = await browser.get(path);
      expect([path, res.status]).toEqual([path, 403]);
      expect(res.text).toContain('Not allowed');
    }
    const keysBefore = await t.app
      .get(DataSource)
      .query('SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1', [tenant.id]);
    expect((await browser.post('/dashboard/keys', { name: 'sneaky', scopes: ['keys:read'] })).status).toBe(403);
    expect((await browser.post('/dashboard/users/invitations', { email: 'x@example.com', role: 'owner' })).status).toBe(
      403,
    );
    const keysAfter = await t.app
      .get(DataSource)
      .query('SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1', [tenant.id]);
    expect(keysAfter).toEqual(keysBefore);
    expect((await browser.get('/dashboard/keys')).status).toBe(200);
  });

  it('shows user-supplied text escaped: a tenant and a key named <script>', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    const { id } = await createKey(browser, '<script>alert("key")</script>');
    for (const path of ['/dashboard', '/dashboard/keys', `/dashboard/keys/${id}`]) {
      const html = (await browser.get(path)).text;
      expect(html).not.toContain('<script>alert');
      expect(html).toContain('&lt;script&gt;alert(');
    }
  });

  it('re-renders a form with field messages and the input after a validation error; flash after success', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    await browser.get('/dashboard/keys/new');
    const bad = await browser.post('/dashboard/keys', { name: 'kept name', expiresInDays: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('value="kept name"');
    expect(bad.text).toContain('Choose at least one scope.');
    expect(bad.text).toContain('Expiry must be a whole number');

    // The account page is where people find their second factors.
    expect((await browser.get('/dashboard/account')).text).toContain('href="/dashboard/security"');
    const weak = await browser.post('/dashboard/account/password', {
      currentPassword: owner.password,
      newPassword: 'password',
      confirmPassword: 'password',
    });
    expect(weak.status).toBe(400);
    expect(weak.text).toContain('aria-invalid="true"');
    expect(weak.text).not.toContain(owner.password);

    await browser.get('/dashboard/config');
    const saved = await browser.post('/dashboard/config', { key: 'feature.x', value: '{"on": true}' });
    expect(saved.headers.location).toBe('/dashboard/config?flash=config-saved');
    const page = await browser.get(saved.headers.location);
    expect(page.text).toContain('The configuration entry has been saved.');
    expect(page.text).toContain('{&quot;on&quot;:true}');
    await browser.post('/dashboard/config', {
      key: 'db.password',
      value: 'hunter2-secret',
      type: 'text',
      secret: 'on',
    });
    const masked = await browser.get('/dashboard/config');
    expect(masked.text).not.toContain('hunter2-secret');
    expect(masked.text).toContain('********');
  });

  it('uses the __Host- prefix and Secure behind https', async () => {
    const secure = await createTestApp({ env: { PUBLIC_URL: 'https://keys.example.com' } });
    try {
      const login = await secure.http.get('/login');
      expect(setCookieLine(login, '__Host-kw_csrf')).toMatch(/; Secure/);
      const t2 = await createTenant(secure);
      const user = await createUser(secure, t2.id, 'owner');
      const browser = new Browser(secure);
      const res = await browser.signIn(user);
      const line = setCookieLine(res, '__Host-kw_session')!;
      expect(line).toMatch(/; Secure/);
      expect(line).toMatch(/; HttpOnly/);
      expect(line).toMatch(/; Path=\//);
      expect(line).not.toMatch(/Domain=/i);
      expect((await browser.get('/dashboard')).status).toBe(200);
    } finally {
      await secure.close();
    }
  });

  it('invites a user who sets a password through /invite and signs in', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    await browser.get('/dashboard/users');
    const email = `invitee-${Date.now()}@example.com`;
    expect((await browser.post('/dashboard/users/invitations', { email, role: 'member' })).headers.location).toBe(
      '/dashboard/users?flash=user-invited',
    );
    const { token } = await issueInvite(email);
    const guest = new Browser(t);
    await guest.get(`/invite?token=${encodeURIComponent(token)}`);
    await guest.get('/invite');
    const password = 'lantern orchard 7 quietly';
    const accepted = await guest.post('/invite', { password });
    expect(accepted.headers.location).toBe('/login?flash=invitation-accepted');
    expect(setCookieLine(accepted, 'kw_invite_token')).toMatch(/Expires=Thu, 01 Jan 1970/);
    await guest.signIn({ email, password });
    expect((await guest.get('/dashboard')).text).toContain(email);
  });

  it.each(['invite', 'reset'])(
    '/%s?token=… moves the token into a cookie of that page and sends the browser to the bare URL',
    async (page) => {
      const token =
        page === 'invite' ? await invitedByOperator() : await issueReset(await createUser(t, tenant.id, 'member'));
      const guest = new Browser(t);
      const opened = await guest.get(`/${page}?token=${encodeURIComponent(token)}`);
      expect(opened.status).toBe(303);
      expect(opened.headers.location).toBe(`/${page}`);
      expect(opened.headers['referrer-policy']).toBe('no-referrer');
      const cookie = setCookieLine(opened, `kw_${page}_token`)!;
      expect(cookie).toContain(`kw_${page}_token=${token}`);
      for (const attribute of [`Path=/${page}`, 'HttpOnly', 'SameSite=Lax', 'Max-Age=1800'])
        expect(cookie).toContain(attribute);
      // The page itself, and what it loads or posts, never carries the token again.
      const form = await guest.get(`/${page}`);
      expect(form.status).toBe(200);
      expect(form.headers['referrer-policy']).toBe('no-referrer');
      expect(form.text).not.toContain(token);
      const password = `lantern orchard ${Date.now()} quietly`;
      expect((await guest.post(`/${page}`, { password })).headers.location).toMatch(/^\/login\?flash=/);
      // Spent: the same browser posting again is told the link is used up.
      await guest.get(`/${page}?token=${encodeURIComponent(token)}`);
      await guest.get(`/${page}`);
      const again = await guest.post(`/${page}`, { password: `${password} again` });
      expect(again.status).toBe(400);
      expect(again.text).toContain('This link is invalid, expired or already used');
    },
  );

  it('every password form states the rule the server enforces', async () => {
    const hint = (html: string) => [...html.matchAll(/class="hint"[^>]*>([^<]+)</g)].map((m) => m[1].trim());
    const browser = new Browser(t);
    const user = await createUser(t, tenant.id, 'member');
    await browser.signIn(user);
    for (const path of ['/reset', '/invite', '/dashboard/account'])
      expect([path, hint((await browser.get(path)).text)]).toEqual([path, [PASSWORD_HINT]]);
    expect(PASSWORD_HINT).toContain(`${PASSWORD_MIN} to ${PASSWORD_MAX} characters`);
    expect(PASSWORD_HINT).toContain(`${PASSWORD_RECOMMENDED} or more recommended`);
    // The server: one character short is refused with a message naming the same minimum, exactly the minimum passes.
    const change = (newPassword: string) =>
      browser.post('/dashboard/account/password', {
        currentPassword: user.password,
        newPassword,
        confirmPassword: newPassword,
      });
    await browser.get('/dashboard/account');
    const short = await change('Xq7#vLp9wK'.slice(0, PASSWORD_MIN - 1));
    expect(short.status).toBe(400);
    expect(short.text).toContain(`Password must be ${PASSWORD_MIN} to`);
    expect((await change('Xq7#vLp9wK'.slice(0, PASSWORD_MIN))).headers.location).toBe(
      '/dashboard/account?flash=password-changed',
    );
  });

  /** The token of the invite link the operator's user creation answers. */
  async function invitedByOperator(): Promise<string> {
    const res = await t.http
      .post(`/admin/tenants/${tenant.id}/users`)
      .set(adminHeaders)
      .send({ email: `moved-${Date.now()}@example.com`, role: 'member' })
      .expect(201);
    return new URL(res.body.inviteUrl).searchParams.get('token')!;
  }

  /** A fresh reset token for a user, issued the way the forgotten-password flow does. */
  async function issueReset(user: TestUser): Promise<string> {
    return t.app.get(OneTimeTokensService).issue('password_reset', { id: user.id, tenantId: tenant.id }, null);
  }

  /** A fresh invitation token for a user (the mailed one is not readable here). */
  async function issueInvite(email: string): Promise<{ token: string }> {
    const [user] = await t.app
      .get(DataSource)
      .query(
        'SELECT u.id, u.tenant_id AS "tenantId" FROM users u JOIN people p ON p.id = u.person_id WHERE p.email = $1',
        [email],
      );
    return { token: await t.app.get(OneTimeTokensService).issue('invitation', user, null) };
  }

  it('does not let the operator token into the pages', async () => {
    expect((await t.http.get('/dashboard').set(adminHeaders)).status).toBe(303);
  });

  it('rotating on the dashboard passes the key caps: at the cap only a rotation without grace is taken', async () => {
    const capped = await createTenant(t);
    await t.http.patch(`/admin/tenants/${capped.id}`).set(adminHeaders).send({ maxKeysPerUser: 1 }).expect(200);
    const browser = new Browser(t);
    await browser.signIn(await createUser(t, capped.id, 'owner'));
    const { id, key } = await createKey(browser);
    await browser.get(`/dashboard/keys/${id}`);
    const refused = await browser.post(`/dashboard/keys/${id}/rotate`, { gracePeriodSeconds: '86400' });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('reached the limit of 1 active keys');
    expect((await config(key)).status).toBe(200);
    await browser.get(`/dashboard/keys/${id}`);
    const rotated = await browser.post(`/dashboard/keys/${id}/rotate`, { gracePeriodSeconds: '0' });
    expect(rotated.status).toBe(303);
    expect(rotated.headers.location).toMatch(/^\/dashboard\/keys\/[0-9a-f-]{36}\/secret$/);
    expect((await config(key)).status).toBe(401);
  });

  describe('activity: usage charts, audit events, the audit log and secret reveals', () => {
    let team: TestTenant;
    let boss: TestUser;
    let member: TestUser;
    let looker: TestUser;
    const db = () => t.app.get(DataSource);
    const today = () => new Date().toISOString().slice(0, 10);
    const shift = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
    /** The cells of the usage table's row for one period. */
    const usageRow = (html: string, label: string) =>
      new RegExp(`<th scope="row">${label}</th><td>(\\d+)</td><td>(\\d+)</td>`).exec(html)?.slice(1).map(Number);

    beforeAll(async () => {
      team = await createTenant(t, 'Activity Ltd');
      boss = await createUser(t, team.id, 'owner');
      member = await createUser(t, team.id, 'member');
      looker = await createUser(t, team.id, 'viewer');
    });

    it('charts the last 7 days of requests on the overview, successes and denials, with the numbers', async () => {
      const browser = new Browser(t);
      await browser.signIn(boss);
      const before = await browser.get('/dashboard');
      expect(before.text).toContain('No requests in this period.');
      const { id, key } = await createKey(browser);
      for (let i = 0; i < 3; i++) expect((await config(key)).status).toBe(200);
      await browser.get(`/dashboard/keys/${id}`);
      await browser.post(`/dashboard/keys/${id}/disable`);
      expect((await config(key)).body.code).toBe('KEY_DISABLED');
      await t.app.get(KeyUsageService).flush();

      const html = (await browser.get('/dashboard')).text;
      expect(html).toMatch(/<svg role="img" aria-label="Requests with the tenant’s keys, last 7 days"/);
      expect(html).toContain('<title>Requests with the tenant’s keys, last 7 days</title>');
      expect(html).toContain('3 allowed · 1 denied');
      expect(usageRow(html, today())).toEqual([3, 1]);
      expect(usageRow(html, shift(-6))).toEqual([0, 0]);
      expect(usageRow(html, shift(-7))).toBeUndefined();
      expect(html.match(/<rect class="bar-ok"/g)).toHaveLength(1);
      expect(html.match(/<rect class="bar-denied"/g)).toHaveLength(1);

      // A member's overview counts only the member's own keys.
      const memberBrowser = new Browser(t);
      await memberBrowser.signIn(member);
      const mine = (await memberBrowser.get('/dashboard')).text;
      expect(mine).toContain('Requests with your keys, last 7 days');
      expect(mine).toContain('No requests in this period.');
    });

    it('shows the 10 most recent audit events to an owner, not to a member or a viewer', async () => {
      const browser = new Browser(t);
      // Enough events that only the newest 10 fit.
      for (let i = 0; i < 3; i++) await browser.signIn(boss);
      const [{ n }] = await db().query('SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1', [team.id]);
      expect(n).toBeGreaterThan(10);
      const html = (await browser.get('/dashboard')).text;
      expect(html).toContain('Recent audit events');
      expect(html).toContain('<code>key.created</code>');
      expect(html).toContain('<code>auth.login</code>');
      const section = html.slice(html.indexOf('Recent audit events'), html.indexOf('Shortcuts'));
      expect(section.match(/<tr>\s*<td class="when">/g)).toHaveLength(10);
      expect(section).toContain(boss.email);
      for (const user of [member, looker]) {
        const other = new Browser(t);
        await other.signIn(user);
        const page = (await other.get('/dashboard')).text;
        expect(page).not.toContain('Recent audit events');
        expect(page).not.toContain('<code>auth.login</code>');
        expect(page).not.toContain('href="/dashboard/audit"');
      }
    });

    it('shows a key its usage per hour or per day and its audit events; a member sees only their own keys', async () => {
      const ownerBrowser = new Browser(t);
      await ownerBrowser.signIn(boss);
      const bossKey = await createKey(ownerBrowser, 'boss key');
      const memberBrowser = new Browser(t);
      await memberBrowser.signIn(member);
      const mine = await createKey(memberBrowser, 'member key');
      await config(mine.key);
      await t.app.get(KeyUsageService).flush();

      const hourly = (await memberBrowser.get(`/dashboard/keys/${mine.id}`)).text;
      expect(hourly).toContain('Requests with member key per hour, last 48 hours');
      expect(hourly).toContain('1 allowed · 0 denied');
      expect(hourly.match(/<th scope="row">/g)).toHaveLength(48);
      expect(hourly).toContain('<code>key.created</code>');
      expect(hourly).toContain(member.email);
      const daily = (await memberBrowser.get(`/dashboard/keys/${mine.id}?usage=day`)).text;
      expect(daily).toContain('Requests with member key per day, last 30 days');
      expect(daily.match(/<th scope="row">/g)).toHaveLength(30);
      expect(usageRow(daily, today())).toEqual([1, 0]);

      const refused = await memberBrowser.get(`/dashboard/keys/${bossKey.id}`);
      expect(refused.status).toBe(404);
      expect(refused.text).not.toContain('boss key');
      expect(refused.text).not.toContain('key.created');
      // The owner sees both keys' pages.
      expect((await ownerBrowser.get(`/dashboard/keys/${mine.id}`)).status).toBe(200);
    });

    it('lists the audit log with filters, older pages, a CSV download and the chain check; owners and admins only', async () => {
      const audit = t.app.get(AuditService);
      for (let i = 0; i < 55; i++)
        await audit.record(db().manager, {
          tenantId: team.id,
          actor: { type: 'system', id: null },
          action: 'test.bulk',
          metadata: { i },
        });
      const browser = new Browser(t);
      await browser.signIn(boss);
      const first = await browser.get('/dashboard/audit?action=test.bulk');
      expect(first.status).toBe(200);
      expect(first.text).toContain('Chain verified');
      const rows = (html: string) =>
        [
          ...html.matchAll(
            /<tr>\s*<td class="when"><time[^>]*>[^<]*<\/time><\/td>\s*<td>(\d+)<\/td>\s*<td><code>([^<]+)<\/code>/g,
          ),
        ].map((m) => ({ seq: Number(m[1]), action: m[2] }));
      const page1 = rows(first.text);
      expect(page1).toHaveLength(50);
      expect(page1.every((row) => row.action === 'test.bulk')).toBe(true);
      const older = /href="([^"]+)" rel="next">Older/
        .exec(first.text)![1]
        .replace(/&amp;/g, '&')
        .replace(/&#x3D;/g, '=');
      expect(older).toContain('action=test.bulk');
      const page2 = rows((await browser.get(older)).text);
      expect(page2).toHaveLength(5);
      expect(Math.max(...page2.map((row) => row.seq))).toBeLessThan(Math.min(...page1.map((row) => row.seq)));

      expect(rows((await browser.get(`/dashboard/audit?action=test.bulk&from=${shift(1)}`)).text)).toHaveLength(0);
      expect(rows((await browser.get(`/dashboard/audit?action=test.bulk&to=${shift(-1)}`)).text)).toHaveLength(0);
      expect(
        rows(
          (
            await browser.get(
              `/dashboard/audit?action=test.bulk&from=${today()}&to=${today()}&actorType=system&outcome=success`,
            )
          ).text,
        ),
      ).toHaveLength(50);
      expect(rows((await browser.get('/dashboard/audit?action=test.bulk&actorType=user')).text)).toHaveLength(0);
      const badDate = await browser.get('/dashboard/audit?from=yesterday');
      expect(badDate.status).toBe(200);
      expect(badDate.text).toContain('Enter a date as YYYY-MM-DD.');

      // The CSV link is the API's export, reached with the session cookie.
      const csvHref = /href="([^"]+)" download>Download CSV/
        .exec(first.text)![1]
        .replace(/&amp;/g, '&')
        .replace(/&#x3D;/g, '=');
      expect(csvHref).toBe('/v1/audit-events?action=test.bulk&format=csv');
      const csv = await browser.get(csvHref);
      expect(csv.status).toBe(200);
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      const lines = csv.text.trim().split('\r\n');
      expect(lines[0]).toMatch(/^occurredAt,seq,/);
      expect(lines.slice(1)).toHaveLength(55);
      expect(lines.slice(1).every((line) => line.includes(',test.bulk,'))).toBe(true);

      for (const user of [member, looker]) {
        const other = new Browser(t);
        await other.signIn(user);
        const res = await other.get('/dashboard/audit');
        expect(res.status).toBe(403);
        expect(res.text).toContain('Not allowed');
        expect((await other.get(csvHref)).status).toBe(403);
      }

      // Edited behind the application's back, the chain shows where it breaks.
      const seq = page2[0].seq;
      await db().transaction(async (m) => {
        await m.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
        await m.query('UPDATE audit_events SET metadata = \'{"i": -1}\' WHERE tenant_id = $1 AND seq = $2', [
          team.id,
          seq,
        ]);
        await m.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only');
      });
      const broken = (await browser.get('/dashboard/audit')).text;
      expect(broken).toContain(`Chain broken at event ${seq}`);
      expect(broken).toContain('HASH_MISMATCH');
    });

    it('reveals one secret on request, only in that response, and audits who revealed which key', async () => {
      const other = await createTenant(t, 'Reveal Co');
      const owner2 = await createUser(t, other.id, 'owner');
      const viewer2 = await createUser(t, other.id, 'viewer');
      const browser = new Browser(t);
      await browser.signIn(owner2);
      await browser.get('/dashboard/config');
      await browser.post('/dashboard/config', { key: 'db.password', value: '"hunter2-secret"', secret: 'on' });
      await browser.post('/dashboard/config', { key: 'api.token', value: '"other-secret-value"', secret: 'on' });
      const page = await browser.get('/dashboard/config');
      expect(page.text).not.toContain('hunter2-secret');
      expect(page.text).toContain('action="/dashboard/config/db.password/reveal"');
      const revealedEvents = () =>
        db().query(
          "SELECT actor_type, actor_id, target_type, target_id, metadata FROM audit_events WHERE tenant_id = $1 AND action = 'config.secret_revealed'",
          [other.id],
        );

      // No CSRF token, or a viewer: refused, nothing shown, nothing recorded.
      const forged = await browser.post('/dashboard/config/db.password/reveal', { _csrf: null });
      expect(forged.status).toBe(403);
      expect(forged.text).not.toContain('hunter2-secret');
      const viewerBrowser = new Browser(t);
      await viewerBrowser.signIn(viewer2);
      await viewerBrowser.get('/dashboard');
      const denied = await viewerBrowser.post('/dashboard/config/db.password/reveal');
      expect(denied.status).toBe(403);
      expect(denied.text).not.toContain('hunter2-secret');
      expect(await revealedEvents()).toEqual([]);

      const shown = await browser.post('/dashboard/config/db.password/reveal');
      expect(shown.status).toBe(200);
      expect(shown.headers['cache-control']).toBe('no-store');
      expect(shown.text).toContain('&quot;hunter2-secret&quot;');
      expect(shown.text).not.toContain('other-secret-value');
      expect(await revealedEvents()).toEqual([
        {
          actor_type: 'user',
          actor_id: owner2.id,
          target_type: 'config_entry',
          target_id: 'db.password',
          metadata: {},
        },
      ]);
      const raw = await db().query(
        "SELECT * FROM audit_events WHERE tenant_id = $1 AND action = 'config.secret_revealed'",
        [other.id],
      );
      expect(JSON.stringify(raw)).not.toContain('hunter2');

      expect((await browser.get('/dashboard/config')).text).not.toContain('hunter2-secret');
      expect((await browser.post('/dashboard/config/feature.none/reveal')).status).toBe(404);
      expect(await revealedEvents()).toHaveLength(1);
    });
  });
});
