import { Browser } from './helpers/dashboard';
import { createTenant, createUser, TestUser } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

/** What Chromium sends when it navigates to an address. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('error pages and the site root', () => {
  let t: TestApp;
  let owner: TestUser;

  beforeAll(async () => {
    t = await createTestApp();
    const tenant = await createTenant(t, 'Error Pages Ltd');
    owner = await createUser(t, tenant.id, 'owner');
  });
  afterAll(() => t.close());

  /** The framework's developer wording must never reach a page. */
  const expectHumanWording = (html: string) => {
    expect(html).not.toMatch(/Cannot (GET|POST)/);
    expect(html).not.toMatch(/Validation failed/);
    expect(html).not.toMatch(/is expected/);
  };

  it('keeps the navigation on error pages of a signed-in user, in plain words', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    const cases: [string, number, string][] = [
      ['/dashboard/nothing-here', 404, 'There is no page at this address.'],
      // An id that is no UUID names no page: a 404, not "Validation failed (uuid is expected)".
      ['/dashboard/keys/not-a-uuid', 404, 'There is no page at this address.'],
      ['/dashboard/keys/not-a-uuid/revoke', 404, 'There is no page at this address.'],
      // Our own messages already speak to people and are kept.
      ['/dashboard/keys/6f1c2d4e-0000-4000-8000-000000000000', 404, 'API key not found'],
      // An unknown address outside /dashboard, asked for by a browser: the same page.
      ['/no/such/page', 404, 'There is no page at this address.'],
    ];
    for (const [path, status, message] of cases) {
      const res = await t.http.get(path).set('cookie', browser.cookieHeader).set('accept', BROWSER_ACCEPT);
      expect([path, res.status]).toEqual([path, status]);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.text).toContain(message);
      expect(res.text).toContain('<nav aria-label="Main">');
      expect(res.text).toContain(owner.email);
      expect(res.text).toContain('action="/logout"');
      expectHumanWording(res.text);
    }
  });

  it('shows the error page without navigation, and a way to sign in, to a browser that is signed out', async () => {
    for (const path of ['/dashboard/nothing-here', '/no/such/page']) {
      const res = await t.http.get(path).set('accept', BROWSER_ACCEPT);
      expect(res.status).toBe(404);
      expect(res.text).toContain('Page not found');
      expect(res.text).not.toContain('<nav aria-label="Main">');
      expect(res.text).toContain('href="/login"');
      expectHumanWording(res.text);
    }
    // A stale session cookie is no session: still no navigation, and no error.
    const stale = await t.http.get('/no/such/page').set('accept', BROWSER_ACCEPT).set('cookie', 'kw_session=gone');
    expect(stale.status).toBe(404);
    expect(stale.text).not.toContain('<nav aria-label="Main">');
  });

  it('answers API clients in JSON at unknown addresses, whatever the path', async () => {
    for (const accept of [undefined, 'application/json', '*/*']) {
      const request = t.http.get('/no/such/page');
      const res = await (accept ? request.set('accept', accept) : request);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
      expect(res.headers['content-security-policy']).toBeUndefined();
    }
    // A matched API route stays JSON for a browser too.
    const api = await t.http.get('/v1/api-keys/not-a-uuid').set('accept', BROWSER_ACCEPT);
    expect(api.headers['content-type']).toMatch(/application\/json/);
  });

  it('sends a browser at / to sign in, or to the dashboard when signed in; an API client gets JSON', async () => {
    const signedOut = await t.http.get('/').set('accept', BROWSER_ACCEPT);
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.location).toBe('/login');

    const browser = new Browser(t);
    await browser.signIn(owner);
    const signedIn = await t.http.get('/').set('accept', BROWSER_ACCEPT).set('cookie', browser.cookieHeader);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.location).toBe('/dashboard');

    const api = await t.http.get('/').set('accept', 'application/json');
    expect(api.status).toBe(200);
    expect(api.headers['content-type']).toMatch(/application\/json/);
    expect(api.headers.vary).toMatch(/accept/i);
    expect(api.body).toMatchObject({ service: 'keyward', links: { dashboard: '/dashboard', health: '/health' } });
  });
});
