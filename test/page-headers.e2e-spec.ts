import { Browser } from './helpers/dashboard';
import { createTenant, createUser } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

/** Every page route, signed in or not, as the browser would ask for it. */
const PAGES = [
  '/dashboard',
  '/dashboard/sessions',
  '/dashboard/account',
  '/dashboard/keys',
  '/dashboard/keys/new',
  '/dashboard/users',
  '/dashboard/config',
  '/dashboard/audit',
  '/login',
  '/forgot',
  '/reset',
  '/invite',
];

/** The same paths with one character percent-encoded, in each segment, lower and upper hex. */
function encodedVariants(path: string): string[] {
  const segments = path.split('/').slice(1);
  return segments.flatMap((segment, i) => {
    const code = segment.charCodeAt(0).toString(16);
    return [code, code.toUpperCase()].map(
      (hex) => '/' + segments.map((s, j) => (j === i ? `%${hex}${s.slice(1)}` : s)).join('/'),
    );
  });
}

describe('page security headers follow the matched route, not the raw URL', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    t = await createTestApp();
    const tenant = await createTenant(t);
    browser = new Browser(t);
    await browser.signIn(await createUser(t, tenant.id, 'owner'));
  });
  afterAll(() => t.close());

  it('every page, and every percent-encoded spelling of it, gets CSP, frame denial, no-store and a referrer policy', async () => {
    const checked: string[] = [];
    for (const page of PAGES) {
      for (const path of [page, ...encodedVariants(page)]) {
        const res = await browser.get(path);
        const headers = {
          path,
          status: res.status,
          csp: res.headers['content-security-policy'],
          frame: res.headers['x-frame-options'],
          cache: res.headers['cache-control'],
          referrer: res.headers['referrer-policy'],
        };
        expect(headers).toEqual({
          path,
          status: res.status,
          csp: expect.stringContaining("frame-ancestors 'none'"),
          frame: 'DENY',
          cache: 'no-store',
          referrer: expect.any(String),
        });
        expect(res.status).toBeLessThan(500);
        checked.push(path);
      }
    }
    expect(checked.length).toBeGreaterThan(PAGES.length * 3);
  });

  it('an unknown page path gets the HTML error page with the headers; the JSON API gets none of them', async () => {
    for (const path of ['/dashboard/nothing-here', '/%64ashboard/nothing-here']) {
      const res = await browser.get(path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.headers['content-security-policy']).toBeDefined();
    }
    for (const path of ['/health', '/%68ealth']) {
      const res = await t.http.get(path);
      expect(res.headers['content-security-policy']).toBeUndefined();
    }
    const asset = await t.http.get('/static/dashboard.css').expect(200);
    expect(asset.headers['x-frame-options']).toBe('DENY');
  });
});
