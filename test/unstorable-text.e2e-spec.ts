import { Browser } from './helpers/dashboard';
import { tenantWithRoles } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

/**
 * A NUL character cannot be stored in PostgreSQL text or jsonb. Found by wapiti: the sign-in
 * form answered `email=/e%00` with a 500. Input the database refuses is the client's fault: 400.
 */
describe('text the database cannot store', () => {
  let t: TestApp;
  let world: Awaited<ReturnType<typeof tenantWithRoles>>;
  beforeAll(async () => {
    t = await createTestApp();
    world = await tenantWithRoles(t);
  });
  afterAll(() => t.close());

  it('the sign-in and forgot-password forms answer 400, not 500', async () => {
    const browser = new Browser(t);
    await browser.get('/login');
    const login = await browser.post('/login', { email: '/e\u0000', password: 'Letm3in_' });
    expect(login.status).toBe(400);
    await browser.get('/forgot');
    const forgot = await browser.post('/forgot', { email: `ada\u0000@example.com` });
    expect(forgot.status).toBeLessThan(500);
  });

  it('a NUL in a JSON string or in a JSON value is refused with INVALID_CHARACTERS', async () => {
    const name = await t.http.post('/v1/api-keys').set(world.owner.auth).send({ name: 'deploy\u0000bot' }).expect(400);
    expect(name.body.code).toBe('INVALID_CHARACTERS');
    const value = await t.http
      .put('/v1/config/entries/feature.nul')
      .set(world.owner.auth)
      .send({ value: { text: 'a\u0000b' } })
      .expect(400);
    expect(value.body.code).toBe('INVALID_CHARACTERS');
    // Nothing was stored, and the service answers normally afterwards.
    const list = await t.http.get('/v1/api-keys').set(world.owner.auth).expect(200);
    expect(list.body.items.map((key: { name: string }) => key.name)).not.toContain('deploy\u0000bot');
  });
});
