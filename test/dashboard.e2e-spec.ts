import { DataSource } from 'typeorm';
import { OneTimeTokensService } from '../src/auth/one-time-tokens.service';
import { Browser, setCookieLine, shownKey } from './helpers/dashboard';
import { adminHeaders, createTenant, createUser, TestTenant, TestUser } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

const PAGES_SIGNED_IN = ['/dashboard', '/dashboard/keys', '/dashboard/keys/new', '/dashboard/users', '/dashboard/config', '/dashboard/sessions', '/dashboard/account'];
const PAGES_PUBLIC = ['/login', '/forgot', '/reset?token=x', '/invite?token=x'];

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
    expect(res.status).toBe(201);
    return { id: /href="\/dashboard\/keys\/([0-9a-f-]{36})"/.exec(res.text)![1], key: shownKey(res.text) };
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
    const events = await t.app.get(DataSource).query("SELECT actor_id, metadata FROM audit_events WHERE tenant_id = $1 AND action = 'auth.login' AND target_id = $2", [tenant.id, owner.id]);
    expect(events.filter((event: { metadata: { via?: string } }) => event.metadata.via === 'dashboard')).toHaveLength(2);
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
    const withToken = await t.http.delete(`/v1/api-keys/${id}`).set('cookie', browser.cookieHeader).set('x-csrf-token', browser.csrf);
    expect(withToken.status).toBe(204);
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

    await browser.post(`/dashboard/keys/${id}/revoke`);
    expect((await config(key)).status).toBe(401);
  });

  it('sends the security headers on every page, and no-store on signed-in pages', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    for (const path of [...PAGES_PUBLIC, ...PAGES_SIGNED_IN, '/dashboard/nowhere']) {
      const res = await browser.get(path);
      const csp = res.headers['content-security-policy'];
      expect([path, csp]).toEqual([path, expect.stringContaining("script-src 'self'")]);
      for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'self'"]) expect(csp).toContain(directive);
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('same-origin');
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
    for (const path of ['/dashboard/users', '/dashboard/config', '/dashboard/keys/new']) {
      const res = await browser.get(path);
      expect([path, res.status]).toEqual([path, 403]);
      expect(res.text).toContain('Not allowed');
    }
    const keysBefore = await t.app.get(DataSource).query('SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1', [tenant.id]);
    expect((await browser.post('/dashboard/keys', { name: 'sneaky', scopes: ['keys:read'] })).status).toBe(403);
    expect((await browser.post('/dashboard/users/invitations', { email: 'x@example.com', role: 'owner' })).status).toBe(403);
    const keysAfter = await t.app.get(DataSource).query('SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1', [tenant.id]);
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

    await browser.get('/dashboard/account');
    const weak = await browser.post('/dashboard/account/password', { currentPassword: owner.password, newPassword: 'password', confirmPassword: 'password' });
    expect(weak.status).toBe(400);
    expect(weak.text).toContain('aria-invalid="true"');
    expect(weak.text).not.toContain(owner.password);

    await browser.get('/dashboard/config');
    const saved = await browser.post('/dashboard/config', { key: 'feature.x', value: '{"on": true}' });
    expect(saved.headers.location).toBe('/dashboard/config?flash=config-saved');
    const page = await browser.get(saved.headers.location);
    expect(page.text).toContain('The configuration entry has been saved.');
    expect(page.text).toContain('{&quot;on&quot;:true}');
    await browser.post('/dashboard/config', { key: 'db.password', value: 'hunter2-secret', secret: 'on' });
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
    expect((await browser.post('/dashboard/users/invitations', { email, role: 'member' })).headers.location).toBe('/dashboard/users?flash=user-invited');
    const { token } = await issueInvite(email);
    const guest = new Browser(t);
    await guest.get(`/invite?token=${encodeURIComponent(token)}`);
    const password = 'lantern orchard 7 quietly';
    expect((await guest.post('/invite', { token, password })).headers.location).toBe('/login?flash=invitation-accepted');
    await guest.signIn({ email, password });
    expect((await guest.get('/dashboard')).text).toContain(email);
  });

  /** A fresh invitation token for a user (the mailed one is not readable here). */
  async function issueInvite(email: string): Promise<{ token: string }> {
    const [user] = await t.app.get(DataSource).query('SELECT id, tenant_id AS "tenantId" FROM users WHERE email = $1', [email]);
    return { token: await t.app.get(OneTimeTokensService).issue('invitation', user, null) };
  }

  it('does not let the operator token into the pages', async () => {
    expect((await t.http.get('/dashboard').set(adminHeaders)).status).toBe(303);
  });
});
