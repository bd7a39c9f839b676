import { Browser } from './helpers/dashboard';
import { createTenant, createUser, signIn, SignedIn, TestTenant } from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

interface EventDto {
  action: string;
  target: { type: string; id: string | null } | null;
  metadata: Record<string, unknown>;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** Key and config changes name where they came from: address, user agent and request id. */
describe('audit events of key and config changes carry the client', () => {
  let t: TestApp;
  let tenant: TestTenant;
  let owner: SignedIn;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await createTenant(t);
    owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
  });
  afterAll(() => t.close());

  let n = 0;
  /** Headers of one request: its own user agent and request id, so each event can be matched to it. */
  const client = () => {
    n++;
    return { ...owner.auth, 'user-agent': `audit-client-test/${n}`, 'x-request-id': `audit-client-${n}` };
  };
  const events = async (): Promise<EventDto[]> =>
    (await t.http.get('/v1/audit-events').query({ limit: 200 }).set(owner.auth).expect(200)).body.items;
  const expectClient = async (action: string, headers: Record<string, string>, match: Partial<EventDto> = {}) => {
    const found = (await events()).filter(
      (event) => event.action === action && event.requestId === headers['x-request-id'],
    );
    expect([action, found.length]).toEqual([action, 1]);
    expect(found[0]).toMatchObject({
      ...match,
      ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$|^::1$/),
      userAgent: headers['user-agent'],
      requestId: headers['x-request-id'],
    });
  };

  it('on the API: key create, patch, disable, rotate, revoke; config set and delete', async () => {
    let headers = client();
    const key = (
      await t.http
        .post('/v1/api-keys')
        .set(headers)
        .send({ name: 'audited', scopes: ['config:read'] })
        .expect(201)
    ).body;
    await expectClient('key.created', headers, { target: { type: 'api_key', id: key.id } });

    headers = client();
    await t.http.patch(`/v1/api-keys/${key.id}`).set(headers).send({ name: 'audited 2' }).expect(200);
    await expectClient('key.updated', headers, { target: { type: 'api_key', id: key.id } });

    headers = client();
    await t.http.patch(`/v1/api-keys/${key.id}`).set(headers).send({ disabled: true }).expect(200);
    await expectClient('key.disabled', headers);
    await t.http.patch(`/v1/api-keys/${key.id}`).set(owner.auth).send({ disabled: false }).expect(200);

    headers = client();
    const rotated = (
      await t.http.post(`/v1/api-keys/${key.id}/rotate`).set(headers).send({ gracePeriodSeconds: 0 }).expect(201)
    ).body;
    await expectClient('key.rotated', headers, { target: { type: 'api_key', id: key.id } });

    headers = client();
    await t.http.delete(`/v1/api-keys/${rotated.id}`).set(headers).expect(204);
    await expectClient('key.revoked', headers, { target: { type: 'api_key', id: rotated.id } });

    headers = client();
    await t.http
      .put('/v1/config/entries/audited.flag')
      .set(headers)
      .send({ value: { rps: 5 } })
      .expect(200);
    await expectClient('config.changed', headers, { metadata: { operation: 'set', secret: false } });

    headers = client();
    await t.http.delete('/v1/config/entries/audited.flag').set(headers).expect(204);
    await expectClient('config.changed', headers, { metadata: { operation: 'delete' } });
  });

  it('on the dashboard: a key made, edited, rotated and revoked, a config value set and deleted, through the forms', async () => {
    const browser = new Browser(t);
    await browser.signIn(owner);
    await browser.get('/dashboard/keys/new');
    let m = 0;
    /** A form posted as a browser would, with this request's own user agent and request id. */
    const form = async (path: string, fields: Record<string, string>) => {
      m++;
      const headers = { 'user-agent': `dashboard-form/${m}`, 'x-request-id': `dashboard-form-${m}` };
      const res = await t.http
        .post(path)
        .set('cookie', browser.cookieHeader)
        .set(headers)
        .type('form')
        .send({ _csrf: browser.csrf, ...fields })
        .expect(303);
      return { headers, location: res.headers.location as string };
    };

    const created = await form('/dashboard/keys', { name: 'from the form', scopes: 'config:read' });
    const id = /\/dashboard\/keys\/([0-9a-f-]{36})\/secret/.exec(created.location)![1];
    await expectClient('key.created', created.headers, { target: { type: 'api_key', id } });

    const edited = await form(`/dashboard/keys/${id}`, {
      name: 'from the form',
      scopes: 'config:read',
      metadata: '{"team": "billing"}',
      quotaRemainingShown: '',
    });
    await expectClient('key.updated', edited.headers, { target: { type: 'api_key', id } });

    const disabled = await form(`/dashboard/keys/${id}/disable`, { confirm: 'yes' });
    await expectClient('key.disabled', disabled.headers, { target: { type: 'api_key', id } });
    await form(`/dashboard/keys/${id}/enable`, {});

    const rotated = await form(`/dashboard/keys/${id}/rotate`, { gracePeriodSeconds: '0' });
    await expectClient('key.rotated', rotated.headers, { target: { type: 'api_key', id } });
    const successor = /\/dashboard\/keys\/([0-9a-f-]{36})\/secret/.exec(rotated.location)![1];

    const revoked = await form(`/dashboard/keys/${successor}/revoke`, { confirm: 'yes' });
    await expectClient('key.revoked', revoked.headers, { target: { type: 'api_key', id: successor } });

    const saved = await form('/dashboard/config', { key: 'form.flag', value: '{"rps": 5}', type: 'json' });
    await expectClient('config.changed', saved.headers, { metadata: { operation: 'set', secret: false } });
    const deleted = await form('/dashboard/config/form.flag/delete', { confirm: 'yes' });
    await expectClient('config.changed', deleted.headers, { metadata: { operation: 'delete' } });
  });
});
