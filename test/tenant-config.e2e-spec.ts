import { randomBytes } from 'node:crypto';
import { Response } from 'supertest';
import { DataSource } from 'typeorm';
import { Role } from '../src/common/auth/principal';
import { SecretBox } from '../src/common/crypto/secret-box';
import {
  adminHeaders,
  createTenant,
  createUser,
  SignedIn,
  signIn,
  tenantWithRoles,
  TestTenant,
} from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

interface Entry {
  key: string;
  value: unknown;
  secret: boolean;
  updatedAt: string;
}
type Headers = Record<string, string>;

const MASK = '********';
const withKey = (key: string): Headers => ({ 'x-api-key': key });
/** "200", or "403 INSUFFICIENT_SCOPE" for a refusal. */
const outcome = (res: Response): string => (res.status < 300 ? String(res.status) : `${res.status} ${res.body?.code}`);
const unique = () => randomBytes(4).toString('hex');

describe('tenant configuration', () => {
  let t: TestApp;
  let main: { tenant: TestTenant } & Record<Role, SignedIn>;

  beforeAll(async () => {
    t = await createTestApp();
    main = await tenantWithRoles(t);
  });
  afterAll(() => t.close());

  const db = () => t.app.get(DataSource);

  async function adminKey(tenantId: string, scopes: string[], userId?: string): Promise<string> {
    const res = await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId, scopes, userId });
    expect(outcome(res)).toBe('201');
    return res.body.apiKey;
  }

  async function put(headers: Headers, key: string, body: { value: unknown; secret?: boolean }): Promise<Entry> {
    const res = await t.http.put(`/v1/config/entries/${key}`).set(headers).send(body);
    expect(outcome(res)).toBe('200');
    return res.body;
  }

  async function entries(headers: Headers): Promise<Entry[]> {
    const res = await t.http.get('/v1/config/entries').set(headers);
    expect(outcome(res)).toBe('200');
    return res.body;
  }

  async function entry(headers: Headers, key: string): Promise<Entry | undefined> {
    return (await entries(headers)).find((item) => item.key === key);
  }

  /** A fresh tenant with a signed-in owner, for tests that look at the whole configuration. */
  async function freshTenant(): Promise<{ tenant: TestTenant; owner: SignedIn }> {
    const tenant = await createTenant(t);
    return { tenant, owner: await signIn(t, await createUser(t, tenant.id, 'owner')) };
  }

  describe('entries', () => {
    it('PUT creates and replaces an entry, GET lists it, DELETE removes it', async () => {
      const key = `feature.flags-${unique()}`;
      const created = await put(main.owner.auth, key, { value: { beta: true, limit: 3 } });
      expect(created).toEqual({ key, value: { beta: true, limit: 3 }, secret: false, updatedAt: expect.any(String) });
      expect(await entry(main.owner.auth, key)).toEqual({
        key,
        value: { beta: true, limit: 3 },
        secret: false,
        updatedAt: expect.any(String),
      });

      await put(main.admin.auth, key, { value: ['a', 'b'] });
      const listed = (await entries(main.owner.auth)).filter((item) => item.key === key);
      expect(listed).toEqual([{ key, value: ['a', 'b'], secret: false, updatedAt: expect.any(String) }]);

      expect(outcome(await t.http.delete(`/v1/config/entries/${key}`).set(main.admin.auth))).toBe('204');
      expect(await entry(main.owner.auth, key)).toBeUndefined();
      expect(outcome(await t.http.delete(`/v1/config/entries/${key}`).set(main.owner.auth))).toBe('404 NOT_FOUND');
    });

    it('keeps every kind of JSON value as given, and lists entries by key', async () => {
      const { owner } = await freshTenant();
      const values: Record<string, unknown> = {
        'a.string': 'eu-west-1',
        'b.empty-string': '',
        'c.number': 42.5,
        'd.zero': 0,
        'e.false': false,
        'f.array': [1, 'two', { three: 3 }],
        'g.object': { nested: { deep: [true] } },
      };
      for (const [key, value] of Object.entries(values).reverse()) await put(owner.auth, key, { value });
      const listed = await entries(owner.auth);
      expect(listed.map((item) => item.key)).toEqual(Object.keys(values));
      expect(Object.fromEntries(listed.map((item) => [item.key, item.value]))).toEqual(values);

      const key = await adminKey(owner.tenantId, ['config:read']);
      const config = await t.http.get('/config').set(withKey(key)).expect(200);
      expect(config.body).toEqual(values);
    });

    it('simultaneous first writes of one key all succeed and leave one entry (found by fuzzing: a 500 before)', async () => {
      const key = `race-${unique()}`;
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          t.http.put(`/v1/config/entries/${key}`).set(main.owner.auth).send({ value: i }),
        ),
      );
      expect(results.map(outcome)).toEqual(Array(8).fill('200'));
      const listed = (await entries(main.owner.auth)).filter((item) => item.key === key);
      expect(listed).toHaveLength(1);
      expect([0, 1, 2, 3, 4, 5, 6, 7]).toContain(listed[0].value);
    });

    it('answers with a trailing slash too', async () => {
      const key = `slash-${unique()}`;
      expect(outcome(await t.http.put(`/v1/config/entries/${key}/`).set(main.owner.auth).send({ value: 1 }))).toBe(
        '200',
      );
      expect(outcome(await t.http.get('/v1/config/entries/').set(main.owner.auth))).toBe('200');
      expect(outcome(await t.http.delete(`/v1/config/entries/${key}/`).set(main.owner.auth))).toBe('204');
    });
  });

  describe('secret entries', () => {
    it('are masked in every listing and encrypted at rest, bound to their tenant and key', async () => {
      const key = `db.credentials-${unique()}`;
      const password = `pw-${randomBytes(12).toString('hex')}`;
      const value = { user: 'app', password };
      const created = await put(main.owner.auth, key, { value, secret: true });
      expect(created).toEqual({ key, value: MASK, secret: true, updatedAt: expect.any(String) });
      expect(await entry(main.owner.auth, key)).toEqual({
        key,
        value: MASK,
        secret: true,
        updatedAt: expect.any(String),
      });
      const viaKey = await entries(withKey(await adminKey(main.tenant.id, ['config:write', 'config:secrets'])));
      expect(viaKey.find((item) => item.key === key)?.value).toBe(MASK);

      const [row] = await db().query(
        'SELECT row_to_json(c)::text AS json, c.value, c.encrypted FROM config_entries c WHERE tenant_id = $1 AND key = $2',
        [main.tenant.id, key],
      );
      expect(row.json).not.toContain(password);
      expect(row.json).not.toContain(JSON.stringify(value));
      expect(row.json).not.toContain(Buffer.from(password).toString('base64'));
      expect(row.value).toBeNull();
      expect(typeof row.encrypted).toBe('string');
      // It is AES-GCM under CONFIG_ENCRYPTION_KEY, and only opens as this tenant's entry of this name.
      const box = new SecretBox(t.config.configEncryptionKey);
      expect(JSON.parse(box.open(row.encrypted, `${main.tenant.id}/${key}`))).toEqual(value);
      expect(() => box.open(row.encrypted, `${main.tenant.id}/other`)).toThrow();

      const json = (await db().query('SELECT row_to_json(c)::text AS json FROM config_entries c'))
        .map((r: { json: string }) => r.json)
        .join('\n');
      expect(json).not.toContain(password);
      expect(t.logs.filter((line) => line.includes(password))).toEqual([]);
    });

    it('turn back into plain entries when put without the secret flag', async () => {
      const key = `toggle-${unique()}`;
      await put(main.owner.auth, key, { value: 'hidden', secret: true });
      await put(main.owner.auth, key, { value: 'shown' });
      expect(await entry(main.owner.auth, key)).toMatchObject({ value: 'shown', secret: false });
      const [row] = await db().query('SELECT encrypted FROM config_entries WHERE tenant_id = $1 AND key = $2', [
        main.tenant.id,
        key,
      ]);
      expect(row.encrypted).toBeNull();
    });
  });

  describe('GET /config', () => {
    it('serves secret entries only to keys with config:secrets', async () => {
      const { tenant, owner } = await freshTenant();
      const member = await createUser(t, tenant.id, 'member');
      await put(owner.auth, 'region', { value: 'eu' });
      await put(owner.auth, 'api.token', { value: 'tok-123', secret: true });

      const get = async (key: string) => (await t.http.get('/config').set(withKey(key)).expect(200)).body;
      expect(await get(await adminKey(tenant.id, ['config:read']))).toEqual({ region: 'eu' });
      expect(await get(await adminKey(tenant.id, ['config:read', 'config:secrets']))).toEqual({
        region: 'eu',
        'api.token': 'tok-123',
      });
      expect(await get(await adminKey(tenant.id, ['config:read'], member.id))).toEqual({ region: 'eu' });
      const ownersKey = await t.http
        .post('/v1/api-keys')
        .set(owner.auth)
        .send({ scopes: ['config:read', 'config:secrets'] })
        .expect(201);
      expect(await get(ownersKey.body.apiKey)).toEqual({ region: 'eu', 'api.token': 'tok-123' });

      expect(outcome(await t.http.get('/config').set(withKey(await adminKey(tenant.id, ['config:secrets']))))).toBe(
        '403 INSUFFICIENT_SCOPE',
      );
      expect(outcome(await t.http.get('/config').set(owner.auth))).toBe('401 KEY_MISSING');
      expect(outcome(await t.http.get('/config'))).toBe('401 KEY_MISSING');
    });

    it('sends an ETag, answers 304 to If-None-Match, and a change gives a new ETag', async () => {
      const { tenant, owner } = await freshTenant();
      const reader = withKey(await adminKey(tenant.id, ['config:read']));
      const secrets = withKey(await adminKey(tenant.id, ['config:read', 'config:secrets']));
      await put(owner.auth, 'region', { value: 'eu' });
      await put(owner.auth, 'token', { value: 'one', secret: true });

      const first = await t.http.get('/config').set(reader).expect(200);
      const etag = first.headers.etag;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      expect(first.headers['cache-control']).toBe('private, no-cache');
      expect((await t.http.get('/config').set(reader).expect(200)).headers.etag).toBe(etag);

      const notModified = await t.http.get('/config').set(reader).set('if-none-match', etag).expect(304);
      expect(notModified.text).toBe('');
      expect(notModified.headers.etag).toBe(etag);
      await t.http.get('/config').set(reader).set('if-none-match', `"stale", ${etag}`).expect(304);
      await t.http.get('/config').set(reader).set('if-none-match', '"stale"').expect(200);

      // The document with secrets is another document, with its own ETag.
      const withSecrets = await t.http.get('/config').set(secrets).expect(200);
      expect(withSecrets.headers.etag).not.toBe(etag);
      expect((await t.http.get('/config').set(secrets).set('if-none-match', etag)).status).toBe(200);

      // A change to a secret changes only the document that shows it.
      await put(owner.auth, 'token', { value: 'two', secret: true });
      expect(
        await t.http
          .get('/config')
          .set(reader)
          .set('if-none-match', etag)
          .then((res) => res.status),
      ).toBe(304);
      const secretsAfter = await t.http
        .get('/config')
        .set(secrets)
        .set('if-none-match', withSecrets.headers.etag)
        .expect(200);
      expect(secretsAfter.body).toEqual({ region: 'eu', token: 'two' });
      expect(secretsAfter.headers.etag).not.toBe(withSecrets.headers.etag);

      await put(owner.auth, 'region', { value: 'us' });
      const changed = await t.http.get('/config').set(reader).set('if-none-match', etag).expect(200);
      expect(changed.body).toEqual({ region: 'us' });
      expect(changed.headers.etag).not.toBe(etag);

      await t.http.delete('/v1/config/entries/region').set(owner.auth).expect(204);
      const removed = await t.http.get('/config').set(reader).set('if-none-match', changed.headers.etag).expect(200);
      expect(removed.body).toEqual({});
      expect(removed.headers.etag).not.toBe(changed.headers.etag);
    });
  });

  describe('validation', () => {
    it('refuses a value over 16 kB with 400 and takes one of exactly 16 kB', async () => {
      const limit = 16 * 1024;
      const key = `big-${unique()}`;
      const over = await t.http
        .put(`/v1/config/entries/${key}`)
        .set(main.owner.auth)
        .send({ value: 'x'.repeat(limit - 1) });
      expect(outcome(over)).toBe('400 VALIDATION_FAILED');
      const overMultibyte = await t.http
        .put(`/v1/config/entries/${key}`)
        .set(main.owner.auth)
        .send({ value: 'é'.repeat(limit / 2), secret: true });
      expect(outcome(overMultibyte)).toBe('400 VALIDATION_FAILED');
      expect(await entry(main.owner.auth, key)).toBeUndefined();
      // JSON of a string adds its two quotes.
      await put(main.owner.auth, key, { value: 'x'.repeat(limit - 2) });
      expect(((await entry(main.owner.auth, key))?.value as string).length).toBe(limit - 2);
    });

    it('refuses a body that is not JSON (a trailing comma) with 400 and stores nothing, not even as text', async () => {
      const key = `rps-${unique()}`;
      const res = await t.http
        .put(`/v1/config/entries/${key}`)
        .set({ ...main.owner.auth, 'content-type': 'application/json' })
        .send('{"value": {"rps": 5,}}');
      expect(res.status).toBe(400);
      expect(res.body.code).not.toBe('INTERNAL_ERROR');
      expect(await entry(main.owner.auth, key)).toBeUndefined();
      // Text that only looks like JSON is a string when it is sent as one, and comes back as that string.
      await put(main.owner.auth, key, { value: '{"rps": 5,}' });
      expect((await entry(main.owner.auth, key))?.value).toBe('{"rps": 5,}');
    });

    it.each<[string, unknown]>([
      ['no value', {}],
      ['a non-boolean secret flag', { value: 1, secret: 'yes' }],
      ['an unknown property', { value: 1, ttl: 60 }],
    ])('refuses %s with 400', async (_label, body) => {
      expect(
        outcome(
          await t.http
            .put(`/v1/config/entries/valid-${unique()}`)
            .set(main.owner.auth)
            .send(body as object),
        ),
      ).toBe('400 VALIDATION_FAILED');
    });

    it.each(['.hidden', '-dash', '_under', 'has%20space', 'semi;colon', 'caf%C3%A9', 'a'.repeat(129), 'star*'])(
      'refuses the key name %p with 400',
      async (name) => {
        expect(outcome(await t.http.put(`/v1/config/entries/${name}`).set(main.owner.auth).send({ value: 1 }))).toBe(
          '400 VALIDATION_FAILED',
        );
        expect(outcome(await t.http.delete(`/v1/config/entries/${name}`).set(main.owner.auth))).toBe(
          '400 VALIDATION_FAILED',
        );
      },
    );

    it('takes key names of letters, digits, dots, dashes and underscores up to 128 characters', async () => {
      for (const name of ['A', '9lives', `a_b-c.d.${unique()}`, 'a'.repeat(128)]) {
        expect([
          name,
          outcome(await t.http.put(`/v1/config/entries/${name}`).set(main.owner.auth).send({ value: name })),
        ]).toEqual([name, '200']);
      }
    });
  });

  describe('access', () => {
    it('members and viewers cannot read or change entries with their sign-in', async () => {
      const key = `guarded-${unique()}`;
      await put(main.owner.auth, key, { value: 'kept' });
      const results: Record<string, string> = {};
      for (const role of ['member', 'viewer'] as const) {
        const auth = main[role].auth;
        results[`${role} list`] = outcome(await t.http.get('/v1/config/entries').set(auth));
        results[`${role} put`] = outcome(
          await t.http.put(`/v1/config/entries/${key}`).set(auth).send({ value: 'changed' }),
        );
        results[`${role} delete`] = outcome(await t.http.delete(`/v1/config/entries/${key}`).set(auth));
      }
      expect(results).toEqual({
        'member list': '403 FORBIDDEN',
        'member put': '403 FORBIDDEN',
        'member delete': '403 FORBIDDEN',
        'viewer list': '403 FORBIDDEN',
        'viewer put': '403 FORBIDDEN',
        'viewer delete': '403 FORBIDDEN',
      });
      expect(await entry(main.owner.auth, key)).toMatchObject({ value: 'kept' });
      expect(outcome(await t.http.get('/v1/config/entries'))).toBe('401 UNAUTHENTICATED');
    });

    it('a key needs config:write to list or change entries; config:read only reads GET /config', async () => {
      const key = `scoped-${unique()}`;
      await put(main.owner.auth, key, { value: 'kept' });
      const reader = withKey(await adminKey(main.tenant.id, ['config:read', 'config:secrets']));
      const membersKey = withKey(await adminKey(main.tenant.id, ['config:read'], main.member.id));
      const writer = withKey(await adminKey(main.tenant.id, ['config:write']));
      expect({
        'reader put': outcome(await t.http.put(`/v1/config/entries/${key}`).set(reader).send({ value: 'changed' })),
        'reader delete': outcome(await t.http.delete(`/v1/config/entries/${key}`).set(reader)),
        "member's key put": outcome(
          await t.http.put(`/v1/config/entries/${key}`).set(membersKey).send({ value: 'changed' }),
        ),
        'reader list': outcome(await t.http.get('/v1/config/entries').set(reader)),
        'writer list': outcome(await t.http.get('/v1/config/entries').set(writer)),
      }).toEqual({
        'reader put': '403 INSUFFICIENT_SCOPE',
        'reader delete': '403 INSUFFICIENT_SCOPE',
        "member's key put": '403 INSUFFICIENT_SCOPE',
        'reader list': '403 INSUFFICIENT_SCOPE',
        'writer list': '200',
      });
      expect(await entry(main.owner.auth, key)).toMatchObject({ value: 'kept' });

      expect(outcome(await t.http.put(`/v1/config/entries/${key}`).set(writer).send({ value: 'by key' }))).toBe('200');
      expect(await entry(main.owner.auth, key)).toMatchObject({ value: 'by key' });
      expect(outcome(await t.http.delete(`/v1/config/entries/${key}`).set(writer))).toBe('204');
    });

    it('another tenant’s configuration is never visible or changeable', async () => {
      const a = await freshTenant();
      const b = await freshTenant();
      await put(a.owner.auth, 'shared.name', { value: 'from a' });
      await put(a.owner.auth, 'a.secret', { value: 'a-secret-value', secret: true });
      const bKey = withKey(await adminKey(b.tenant.id, ['config:read', 'config:write', 'config:secrets']));
      const aKey = withKey(await adminKey(a.tenant.id, ['config:read', 'config:secrets']));

      expect(await entries(b.owner.auth)).toEqual([]);
      expect(await entries(bKey)).toEqual([]);
      expect((await t.http.get('/config').set(bKey).expect(200)).body).toEqual({});
      expect(outcome(await t.http.delete('/v1/config/entries/shared.name').set(b.owner.auth))).toBe('404 NOT_FOUND');
      expect(outcome(await t.http.delete('/v1/config/entries/a.secret').set(bKey))).toBe('404 NOT_FOUND');

      await put(b.owner.auth, 'shared.name', { value: 'from b' });
      expect((await t.http.get('/config').set(bKey).expect(200)).body).toEqual({ 'shared.name': 'from b' });
      expect((await t.http.get('/config').set(aKey).expect(200)).body).toEqual({
        'shared.name': 'from a',
        'a.secret': 'a-secret-value',
      });
      expect((await entries(a.owner.auth)).map((item) => [item.key, item.value])).toEqual([
        ['a.secret', MASK],
        ['shared.name', 'from a'],
      ]);
    });

    it('a suspended tenant’s keys get no configuration', async () => {
      const { tenant, owner } = await freshTenant();
      await put(owner.auth, 'region', { value: 'eu' });
      const key = withKey(await adminKey(tenant.id, ['config:read']));
      await t.http.get('/config').set(key).expect(200);
      await t.http.patch(`/admin/tenants/${tenant.id}`).set(adminHeaders).send({ status: 'suspended' }).expect(200);
      expect(outcome(await t.http.get('/config').set(key))).toBe('403 TENANT_SUSPENDED');
    });
  });
});
