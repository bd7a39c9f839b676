import { DataSource } from 'typeorm';
import { KeyUsageService } from '../src/api-keys/key-usage.service';
import { Clock } from '../src/common/clock';
import { listRouteAccess } from '../src/common/auth/route-access';
import { FactorsService } from '../src/mfa/factors.service';
import { totpCode } from '../src/mfa/totp';
import { Browser } from './helpers/dashboard';
import { adminHeaders, createTenant, createUser, login, signIn, strongPassword } from './helpers/identity';
import { watchMail } from './helpers/mail';
import { createTestApp, TEST_ADMIN_TOKEN, TestApp } from './helpers/test-app';

const UA = 'operator-console-test/1.0';

type Json = Record<string, any>;

/** An operator's browser, signed in at the same /login as everyone. */
async function operatorBrowser(t: TestApp, who: { email: string; password: string }, console?: boolean) {
  const browser = new Browser(t);
  browser.headers['user-agent'] = UA;
  const res = await browser.signIn(who, console);
  expect(res.headers.location).toBe('/operator');
  return browser;
}

const tenantEvents = async (t: TestApp, tenantId: string): Promise<Json[]> =>
  (await t.http.get('/admin/audit-events').set(adminHeaders).query({ tenantId, limit: 50 }).expect(200)).body.items;

const idOf = (location: string) => /\/operator\/tenants\/([0-9a-f-]{36})/.exec(location)![1];

describe('operator console', () => {
  let t: TestApp;
  let db: DataSource;
  const first = { email: 'first-op@example.com', password: strongPassword() };
  let firstId: string;

  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
  });
  afterAll(() => t.close());

  describe('bootstrap with ADMIN_TOKEN', () => {
    it('refuses bad input with 400 and a wrong token with 401 (a form error on the page)', async () => {
      await t.http
        .post('/admin/operators')
        .set(adminHeaders)
        .send({ email: 'x', password: strongPassword() })
        .expect(400);
      const weak = await t.http
        .post('/admin/operators')
        .set(adminHeaders)
        .send({ email: 'ops@example.com', password: 'short' })
        .expect(400);
      expect(weak.body.code).toBe('WEAK_PASSWORD');
      await t.http.post('/admin/operators').set(adminHeaders).send({ email: 'ops@example.com' }).expect(400);
      const wrong = await t.http
        .post('/admin/operators')
        .set('x-admin-token', 'x'.repeat(40))
        .send({ email: 'ops@example.com', password: strongPassword() })
        .expect(401);
      expect(wrong.body.code).toBe('ADMIN_TOKEN_INVALID');

      const browser = new Browser(t);
      expect((await browser.get('/operator/bootstrap')).text).toContain('Create the operator</button>');
      const refused = await browser.post('/operator/bootstrap', { token: 'nope', ...first });
      expect(refused.status).toBe(400);
      expect(refused.text).toContain('This is not the admin token.');
      const badEmail = await browser.post('/operator/bootstrap', {
        token: TEST_ADMIN_TOKEN,
        email: 'x',
        password: first.password,
      });
      expect([badEmail.status, badEmail.text.includes('Enter a valid email address.')]).toEqual([400, true]);
      const noCsrf = await browser.post('/operator/bootstrap', { _csrf: null, token: TEST_ADMIN_TOKEN, ...first });
      expect(noCsrf.status).toBe(403);
      expect((await db.query('SELECT count(*)::int AS n FROM people WHERE is_operator'))[0].n).toBe(0);
    });

    it('makes the first operator once; then the token is refused and only an operator adds operators', async () => {
      const browser = new Browser(t);
      browser.headers['user-agent'] = UA;
      await browser.get('/operator/bootstrap');
      const made = await browser.post('/operator/bootstrap', { token: TEST_ADMIN_TOKEN, ...first });
      expect([made.status, made.headers.location]).toEqual([303, '/login?flash=operator-created']);
      firstId = (await db.query('SELECT id FROM people WHERE email = $1 AND is_operator', [first.email]))[0].id;

      expect((await browser.get('/operator/bootstrap')).text).not.toContain('Create the operator</button>');
      const second = { email: 'second-op@example.com', password: strongPassword() };
      const again = await browser.post('/operator/bootstrap', { token: TEST_ADMIN_TOKEN, ...second });
      expect(again.status).toBe(409);
      const api = await t.http.post('/admin/operators').set(adminHeaders).send(second).expect(409);
      expect(api.body.code).toBe('OPERATORS_EXIST');

      const console1 = await operatorBrowser(t, first);
      await console1.get('/operator/operators');
      const added = await console1.post('/operator/operators', second);
      expect([added.status, added.headers.location]).toEqual([303, '/operator/operators?flash=operator-added']);
      await operatorBrowser(t, second);
      const page = (await console1.get('/operator/operators')).text;
      expect(page).toContain(first.email);
      expect(page).toContain(second.email);

      const events: Json[] = await db.query(
        `SELECT actor_type, actor_id, action, metadata, ip, user_agent, request_id FROM operator_events
          WHERE action IN ('operator.added', 'operator.signed_in') ORDER BY id`,
      );
      expect(events.map((e) => [e.action, e.actor_type, e.actor_id, e.metadata.email ?? null])).toEqual([
        ['operator.added', 'admin_token', null, first.email],
        ['operator.signed_in', 'operator', firstId, null],
        ['operator.added', 'operator', firstId, second.email],
        ['operator.signed_in', 'operator', expect.any(String), null],
      ]);
      expect(events.every((e) => e.ip && e.user_agent === UA && e.request_id)).toBe(true);
    });

    it('lets an operator promote an existing member, who keeps their password and chooses the console at sign-in', async () => {
      const tenant = await createTenant(t);
      const member = await createUser(t, tenant.id, 'member');
      const console1 = await operatorBrowser(t, first);
      await console1.get('/operator/operators');
      for (const [form, message] of [
        [{ email: 'not an email' }, 'Enter a valid email address.'],
        [{ email: 'new-person@example.com' }, 'A new operator needs a first password'],
        [{ email: first.email }, 'This person is already an operator'],
      ] as const) {
        const res = await console1.post('/operator/operators', form);
        expect([res.status, res.text.includes(message)]).toEqual([400, true]);
      }
      expect((await console1.post('/operator/operators', { email: member.email })).status).toBe(303);
      // Their tenant stays theirs; the console is asked for at sign-in.
      const asMember = new Browser(t);
      expect((await asMember.signIn(member)).headers.location).toBe('/dashboard');
      await operatorBrowser(t, member, true);
    });

    it('retires the token with ADMIN_TOKEN_RETIRED=true: admin routes and the bootstrap are refused', async () => {
      const retired = await createTestApp({ env: { ADMIN_TOKEN_RETIRED: 'true' } });
      try {
        for (const res of [
          await retired.http.post('/admin/operators').set(adminHeaders).send(first),
          await retired.http.get('/admin/tenants').set(adminHeaders),
          await retired.http.post('/admin/tenants').set(adminHeaders).send({ name: 'Nope' }),
        ]) {
          expect([res.status, res.body.code]).toEqual([403, 'ADMIN_TOKEN_RETIRED']);
        }
        const browser = new Browser(retired);
        expect((await browser.get('/operator/bootstrap')).text).not.toContain('Create the operator</button>');
        await browser.get('/login'); // the closed page has no form, so no CSRF token
        const res = await browser.post('/operator/bootstrap', { token: TEST_ADMIN_TOKEN, ...first });
        expect([res.status, res.text.includes('ADMIN_TOKEN is retired')]).toEqual([403, true]);
        expect(
          (await retired.app.get(DataSource).query('SELECT count(*)::int AS n FROM people WHERE is_operator'))[0].n,
        ).toBe(0);
      } finally {
        await retired.close();
      }
    });
  });

  describe('authorisation', () => {
    it('gives every console route except the bootstrap the operator rule', () => {
      const routes = listRouteAccess(t.app).filter((route) => route.path.startsWith('/operator'));
      expect(routes.length).toBeGreaterThan(10);
      for (const route of routes) {
        const expected = route.path === '/operator/bootstrap' ? 'public' : 'operator';
        expect([route.method, route.path, route.rule?.type]).toEqual([route.method, route.path, expected]);
      }
    });

    it('refuses a tenant owner (403), the admin token, JWTs and no session (to /login), and a form without CSRF', async () => {
      const tenant = await createTenant(t);
      const owner = await createUser(t, tenant.id, 'owner');
      const ownerBrowser = new Browser(t);
      await ownerBrowser.signIn(owner);
      const tenantsBefore = (await t.http.get('/admin/tenants').set(adminHeaders).query({ limit: 1 })).body.total;
      const paths = [
        '/operator',
        '/operator/tenants',
        `/operator/tenants/${tenant.id}`,
        '/operator/audit',
        '/operator/usage',
        '/operator/operators',
        `/operator/tenants/${tenant.id}/suspend`,
      ];
      for (const path of paths) {
        expect([path, (await ownerBrowser.get(path)).status]).toEqual([path, 403]);
        const anonymous = await t.http.get(path);
        expect([path, anonymous.status, anonymous.headers.location]).toEqual([path, 303, '/login']);
        const admin = await t.http.get(path).set(adminHeaders);
        expect([path, admin.status, admin.headers.location]).toEqual([path, 303, '/login']);
      }
      await ownerBrowser.get('/dashboard');
      for (const path of ['/operator/tenants', `/operator/tenants/${tenant.id}/suspend`, '/operator/operators'])
        expect((await ownerBrowser.post(path, { name: 'Owner made', email: owner.email })).status).toBe(403);
      const jwt = await signIn(t, owner);
      expect((await t.http.get('/operator/tenants').set(jwt.auth)).status).toBe(303);

      const operator = await operatorBrowser(t, first);
      await operator.get('/operator/tenants');
      expect((await operator.post('/operator/tenants', { _csrf: null, name: 'No CSRF' })).status).toBe(403);
      expect((await operator.post('/operator/tenants', { _csrf: 'forged', name: 'Forged' })).status).toBe(403);
      expect((await t.http.get('/admin/tenants').set(adminHeaders).query({ limit: 1 })).body.total).toBe(tenantsBefore);
      expect((await t.http.get('/admin/tenants/' + tenant.id).set(adminHeaders)).body.status).toBe('active');
      // An operator is a member of no tenant: the tenant dashboard does not take the console's session.
      expect((await operator.get('/dashboard')).headers.location).toBe('/login');
    });

    it('ends the console session at sign-out', async () => {
      const operator = await operatorBrowser(t, first);
      const session = operator.cookies.get('kw_session')!;
      await operator.get('/operator/tenants');
      const out = await operator.post('/operator/logout');
      expect([out.status, out.headers.location]).toEqual([303, '/login?flash=signed-out']);
      const reused = await t.http.get('/operator/tenants').set('cookie', `kw_session=${session}`);
      expect([reused.status, reused.headers.location]).toEqual([303, '/login']);
      const [event] = await db.query(
        "SELECT actor_id, user_agent FROM operator_events WHERE action = 'operator.signed_out'",
      );
      expect(event).toEqual({ actor_id: firstId, user_agent: UA });
    });
  });

  describe('tenants', () => {
    it('creates a tenant, sets its limits, invites its owner, makes its first key, suspends and unsuspends it, all audited', async () => {
      const mail = watchMail(t.app);
      const operator = await operatorBrowser(t, first);
      await operator.get('/operator/tenants');
      const bad = await operator.post('/operator/tenants', { name: '', slug: 'Not A Slug' });
      expect(bad.status).toBe(400);
      expect(bad.text).toContain('Enter a name of 1 to 200 characters.');
      const created = await operator.post('/operator/tenants', { name: 'Globex Corporation', slug: '' });
      expect(created.status).toBe(303);
      const id = idOf(created.headers.location);
      const taken = await operator.post('/operator/tenants', { name: 'Globex again', slug: 'globex-corporation' });
      expect([taken.status, taken.text.includes('A tenant with this slug already exists')]).toEqual([409, true]);

      // Search and paging
      expect((await operator.get('/operator/tenants?q=GLOBEX')).text).toContain(`/operator/tenants/${id}`);
      expect((await operator.get('/operator/tenants?q=no-such-tenant')).text).not.toContain(`/operator/tenants/${id}`);
      expect((await operator.get('/operator/tenants?q=%25')).status).toBe(200);
      expect((await operator.get('/operator/tenants?page=abc')).status).toBe(200);

      // Limits: a form error for a bad value, then saved
      await operator.get(`/operator/tenants/${id}`);
      const limits = {
        maxKeysPerUser: '3',
        maxKeysPerTenant: '40',
        maxKeyLifetimeDays: '90',
        rateLimit: '20',
        rateWindowSeconds: '10',
        defaultKeyScopes: ['config:read'],
      };
      const badLimits = await operator.post(`/operator/tenants/${id}/limits`, {
        ...limits,
        maxKeysPerUser: 'lots',
        defaultKeyScopes: [],
      });
      expect(badLimits.status).toBe(400);
      expect(badLimits.text).toContain('Enter a whole number from 0 to 100000.');
      expect(badLimits.text).toContain('Choose at least one scope from the list.');
      expect((await operator.post(`/operator/tenants/${id}/limits`, limits)).status).toBe(303);
      const saved = (await t.http.get(`/admin/tenants/${id}`).set(adminHeaders).expect(200)).body;
      expect(saved).toMatchObject({
        maxKeysPerUser: 3,
        maxKeysPerTenant: 40,
        maxKeyLifetimeDays: 90,
        defaultKeyScopes: ['config:read'],
        defaultKeyRateLimit: { limit: 20, windowSeconds: 10 },
      });

      // The first owner, invited by mail
      await operator.get(`/operator/tenants/${id}`);
      expect((await operator.post(`/operator/tenants/${id}/owner`, { email: 'nope' })).status).toBe(400);
      expect((await operator.post(`/operator/tenants/${id}/owner`, { email: 'boss@globex.example' })).status).toBe(303);
      await mail.delivered();
      const invitation = mail.sent().find((m) => m.to === 'boss@globex.example')!;
      expect(invitation.text).toContain('Globex Corporation');
      const token = /invite\?token=([^\s]+)/.exec(invitation.text)![1];
      const ownerPassword = strongPassword();
      await t.http
        .post('/auth/invitations/accept')
        .send({ token: decodeURIComponent(token), password: ownerPassword })
        .expect(204);
      const owner = { email: 'boss@globex.example', password: ownerPassword };
      await t.http.post('/auth/login').send(owner).expect(200);

      // The first key: shown once, after a redirect
      await operator.get(`/operator/tenants/${id}`);
      const noScopes = await operator.post(`/operator/tenants/${id}/keys`, { name: 'First key' });
      expect([noScopes.status, noScopes.text.includes('Choose at least one scope')]).toEqual([400, true]);
      const keyMade = await operator.post(`/operator/tenants/${id}/keys`, {
        name: 'First key',
        scopes: ['config:read'],
      });
      expect(keyMade.status).toBe(303);
      const shown = await operator.get(keyMade.headers.location);
      expect(shown.status).toBe(200);
      const key = /id="new-key"[^>]*value="([^"]+)"/.exec(shown.text)![1];
      const reload = await operator.get(keyMade.headers.location);
      expect([reload.status, reload.text.includes(key)]).toEqual([303, false]);
      await t.http.get('/config').set('x-api-key', key).expect(200);

      // Suspend (a confirm page first), then unsuspend
      const confirm = await operator.get(`/operator/tenants/${id}/suspend`);
      expect(confirm.text).toContain(`action="/operator/tenants/${id}/suspend"`);
      expect((await t.http.get(`/admin/tenants/${id}`).set(adminHeaders)).body.status).toBe('active');
      expect((await operator.post(`/operator/tenants/${id}/suspend`)).status).toBe(303);
      const refused = await t.http.get('/config').set('x-api-key', key);
      expect([refused.status, refused.body.code]).toEqual([403, 'TENANT_SUSPENDED']);
      await t.http.post('/auth/login').send(owner).expect(401);
      await operator.get(`/operator/tenants/${id}`);
      expect((await operator.post(`/operator/tenants/${id}/unsuspend`)).status).toBe(303);
      await t.http.get('/config').set('x-api-key', key).expect(200);
      await t.http.post('/auth/login').send(owner).expect(200);

      const events = (await tenantEvents(t, id)).reverse();
      const byOperator = events.filter((e) => e.actor.type === 'operator');
      expect(byOperator.map((e) => e.action)).toEqual([
        'tenant.created',
        'tenant.updated',
        'user.invited',
        'key.created',
        'tenant.updated',
        'tenant.updated',
      ]);
      expect(byOperator.map((e) => e.metadata.changes?.status ?? null).slice(-2)).toEqual(['suspended', 'active']);
      for (const event of byOperator)
        expect([event.action, event.actor.id, Boolean(event.ip), event.userAgent, Boolean(event.requestId)]).toEqual([
          event.action,
          firstId,
          true,
          UA,
          true,
        ]);

      // The console's own views of it
      const audit = await operator.get(`/operator/audit?tenantId=${id}`);
      expect(audit.text).toContain('tenant.created');
      expect(audit.text).toContain(`operator ${first.email}`);
      const filtered = await operator.get('/operator/audit?tenantId=not-a-uuid&actorType=robot');
      expect([filtered.status, filtered.text.includes('Choose a tenant from the list.')]).toEqual([200, true]);
      expect((await operator.get('/operator/audit?cursor=garbage')).status).toBe(400);
      await t.app.get(KeyUsageService).flush();
      const usage = (await operator.get('/operator/usage?days=30')).text;
      expect(usage).toContain('Globex Corporation');
      // the key's uses: two successes, and the one refusal while suspended
      expect(usage).toMatch(
        /Globex Corporation<\/a><\/td><td><span class="status status-active">active<\/span><\/td><td>2<\/td><td>1<\/td>/,
      );
      expect((await operator.get('/operator/usage?days=lots')).status).toBe(200);
    });

    it('answers unknown or malformed tenants with 4xx pages, never a 500', async () => {
      const operator = await operatorBrowser(t, first);
      await operator.get('/operator/tenants');
      // A page whose id cannot be one is a page that does not exist: the same 404 page as an unknown id.
      const malformed = await operator.get('/operator/tenants/not-a-uuid');
      expect(malformed.status).toBe(404);
      expect(malformed.text).not.toContain('uuid is expected');
      const missing = '00000000-0000-4000-8000-000000000000';
      expect((await operator.get(`/operator/tenants/${missing}`)).status).toBe(404);
      for (const path of ['limits', 'suspend', 'unsuspend', 'owner', 'keys'])
        expect([
          path,
          (
            await operator.post(`/operator/tenants/${missing}/${path}`, {
              email: 'a@b.example',
              name: 'k',
              scopes: ['config:read'],
            })
          ).status,
        ]).toEqual([path, 404]);
      expect((await operator.get(`/operator/tenants/${missing}/keys/${missing}/created`)).status).toBe(303);
    });
  });

  describe('second factor', () => {
    const STEP_MS = 30_000;
    let now = 0;
    /** The clock moves a whole TOTP step at a time, so no code is ever a replay of the last one. */
    const nextStep = () => (now = (Math.floor(Math.max(Date.now(), now) / STEP_MS) + 2) * STEP_MS + 10_000);
    beforeAll(() => jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => new Date(now || Date.now())));
    afterAll(() => jest.restoreAllMocks());

    /** Signs in with the password at /login: the answer is the second step, not yet a session. */
    async function passwordStep(who: { email: string; password: string }, console?: boolean) {
      const browser = new Browser(t);
      browser.headers['user-agent'] = UA;
      const res = await browser.signIn(who, console);
      expect(res.headers.location).toBe('/login/mfa');
      // the password alone opens nothing
      expect((await browser.get('/operator')).headers.location).toBe('/login');
      expect((await browser.get('/login/mfa')).text).toContain('Confirm your sign-in');
      return browser;
    }

    it('an operator with an authenticator app reaches the console only after the second step', async () => {
      const console1 = await operatorBrowser(t, first);
      await console1.get('/operator/operators');
      const op = { email: 'totp-op@example.com', password: strongPassword() };
      expect((await console1.post('/operator/operators', op)).status).toBe(303);
      const [{ id }] = await db.query('SELECT id FROM people WHERE email = $1 AND is_operator', [op.email]);
      const factors = t.app.get(FactorsService);
      nextStep();
      const { secret } = await factors.startTotp(id, op.email);
      await db.transaction((m) => factors.confirmTotp(id, totpCode(secret, new Date(now)), m));

      // The API has no session for an operator in no tenant: refused at once, with no challenge
      const api = await t.http.post('/auth/login').send(op).expect(401);
      expect([api.body.code, api.body.challenge]).toEqual(['INVALID_CREDENTIALS', undefined]);
      nextStep();
      const browser = await passwordStep(op);
      const wrong = await browser.post('/login/mfa', { code: totpCode(secret, new Date(now - 10 * STEP_MS)) });
      expect([wrong.status, wrong.text.includes('Confirm your sign-in')]).toEqual([401, true]);
      expect((await browser.get('/operator')).headers.location).toBe('/login');
      const right = await browser.post('/login/mfa', { code: totpCode(secret, new Date(now)) });
      expect([right.status, right.headers.location]).toEqual([303, '/operator']);
      expect((await browser.get('/operator/tenants')).status).toBe(200);
      // a second sign-in's password step opens no session of its own
      nextStep();
      const again = await passwordStep(op);
      const [{ n }] = await db.query(
        'SELECT count(*)::int AS n FROM operator_sessions WHERE person_id = $1 AND revoked_at IS NULL',
        [id],
      );
      expect(n).toBe(1);
      expect((await again.post('/login/mfa', { code: totpCode(secret, new Date(now)) })).headers.location).toBe(
        '/operator',
      );
      const signedIn = await db.query(
        `SELECT count(*)::int AS n FROM operator_events WHERE action = 'operator.signed_in' AND actor_id = $1`,
        [id],
      );
      expect(signedIn[0].n).toBe(2);
    });

    it('an operator without a tenant adds an authenticator app in the console; the next sign-in asks for it', async () => {
      const console1 = await operatorBrowser(t, first);
      await console1.get('/operator/operators');
      const op = { email: 'self-totp-op@example.com', password: strongPassword() };
      expect((await console1.post('/operator/operators', op)).status).toBe(303);
      const browser = await operatorBrowser(t, op);
      expect((await browser.get('/operator/security')).text).toContain('No authenticator app yet.');
      nextStep();
      const started = await browser.post('/operator/security/totp');
      expect(started.status).toBe(200);
      const secret = /id="totp-secret">([A-Z2-7]+)</.exec(started.text)![1];
      const bad = await browser.post('/operator/security/totp/confirm', { code: '12' });
      expect([bad.status, bad.text.includes('Enter the 6 digits your app shows.')]).toEqual([400, true]);
      const wrong = await browser.post('/operator/security/totp/confirm', {
        code: totpCode(secret, new Date(now - 10 * STEP_MS)),
      });
      expect([wrong.status, wrong.text.includes('id="totp-secret"')]).toEqual([400, true]);
      const noCsrf = await browser.post('/operator/security/totp/confirm', {
        _csrf: null,
        code: totpCode(secret, new Date(now)),
      });
      expect(noCsrf.status).toBe(403);
      const done = await browser.post('/operator/security/totp/confirm', { code: totpCode(secret, new Date(now)) });
      expect(done.status).toBe(200);
      expect(done.text.match(/<li><code>/g)).toHaveLength(10);
      expect((await browser.get('/operator/security')).text).toContain('10 recovery code(s) left');
      const [{ id }] = await db.query('SELECT id FROM people WHERE email = $1', [op.email]);
      const events = await db.query(
        `SELECT actor_id, metadata, ip, user_agent, request_id FROM operator_events WHERE action = 'operator.factor_added'`,
      );
      expect(events).toEqual([expect.objectContaining({ actor_id: id, metadata: { factor: 'totp' }, user_agent: UA })]);
      expect(events[0].ip && events[0].request_id).toBeTruthy();
      // A tenant member cannot reach it
      const tenant = await createTenant(t);
      const owner = new Browser(t);
      await owner.signIn(await createUser(t, tenant.id, 'owner'));
      expect((await owner.get('/operator/security')).status).toBe(403);

      nextStep();
      const next = await passwordStep(op);
      const ok = await next.post('/login/mfa', { code: totpCode(secret, new Date(now)) });
      expect([ok.status, ok.headers.location]).toEqual([303, '/operator']);
    });

    it('a member who is also an operator, with TOTP, picks the console at sign-in and it survives the second step', async () => {
      const tenant = await createTenant(t);
      const member = await createUser(t, tenant.id, 'member');
      nextStep();
      const { accessToken } = await login(t, member.email, member.password);
      const bearer = { authorization: `Bearer ${accessToken}` };
      const started = await t.http.post('/auth/mfa/totp').set(bearer).expect(200);
      await t.http
        .post('/auth/mfa/totp/confirm')
        .set(bearer)
        .send({ code: totpCode(started.body.secret, new Date(now)) })
        .expect(200);
      const console1 = await operatorBrowser(t, first);
      await console1.get('/operator/operators');
      expect((await console1.post('/operator/operators', { email: member.email })).status).toBe(303);

      nextStep();
      const toConsole = await passwordStep(member, true);
      const done = await toConsole.post('/login/mfa', { code: totpCode(started.body.secret, new Date(now)) });
      expect([done.status, done.headers.location]).toEqual([303, '/operator']);
      expect((await toConsole.get('/operator/tenants')).status).toBe(200);
      expect((await toConsole.get('/dashboard')).headers.location).toBe('/login');

      nextStep();
      const toTenant = await passwordStep(member);
      const dash = await toTenant.post('/login/mfa', { code: totpCode(started.body.secret, new Date(now)) });
      expect([dash.status, dash.headers.location]).toEqual([303, '/dashboard']);
      expect((await toTenant.get('/dashboard')).status).toBe(200);
      expect((await toTenant.get('/operator/tenants')).status).toBe(403);
    });
  });
});
