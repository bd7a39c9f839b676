import { createHmac, randomUUID } from 'node:crypto';
import { Response } from 'supertest';
import { DataSource } from 'typeorm';
import { ApiKeyVerifier } from '../src/api-keys/api-key-verifier.service';
import { KeyUsageService } from '../src/api-keys/key-usage.service';
import { Role } from '../src/common/auth/principal';
import { SCOPES } from '../src/common/auth/scopes';
import { Clock } from '../src/common/clock';
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

interface KeyDto {
  id: string;
  name: string;
  hint: string;
  ownerId: string | null;
  scopes: string[];
  status: 'active' | 'disabled' | 'revoked' | 'expired';
  expiresAt: string | null;
  revokedAt: string | null;
  disabled: boolean;
  graceUntil: string | null;
  rotatedFromId: string | null;
  rateLimit: { limit: number; windowSeconds: number } | null;
  ipAllowlist: string[] | null;
  metadata: Record<string, unknown>;
  lastUsedAt: string | null;
  createdAt: string;
}
type CreatedKey = KeyDto & { apiKey: string };
type Headers = Record<string, string>;
type Body = Record<string, unknown>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const KEY_SHAPE = /^kw_[0-9A-Za-z]{49}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A new tenant's default key scopes: read-only, so a key made without scopes cannot mint keys. */
const DEFAULT_SCOPES = ['config:read', 'keys:read'];

const withKey = (key: string): Headers => ({ 'x-api-key': key });
/** "201", or "403 SCOPE_NOT_ALLOWED" for a refusal: compact enough for tables. */
const outcome = (res: Response): string => (res.status < 300 ? String(res.status) : `${res.status} ${res.body?.code}`);

describe('API keys', () => {
  let t: TestApp;
  /** A tenant with one signed-in user per role, shared by the tests that only add keys to it. */
  let main: { tenant: TestTenant } & Record<Role, SignedIn>;
  /** Every full key handed out in this file, for the secrecy checks at the end. */
  const issued: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    main = await tenantWithRoles(t);
    await patchTenant(main.tenant.id, { maxKeysPerUser: 1000, maxKeysPerTenant: 10_000 });
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  const db = () => t.app.get(DataSource);

  /** Keeps any full key a response carries, so the leak checks look for it too. */
  function track(res: Response): Response {
    if (typeof res.body?.apiKey === 'string') issued.push(res.body.apiKey);
    return res;
  }

  /** Runs the application's clock `ms` ahead of real time until the test ends. */
  function advanceClock(ms: number): void {
    jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => new Date(Date.now() + ms));
  }

  async function patchTenant(id: string, body: Body): Promise<void> {
    await t.http.patch(`/admin/tenants/${id}`).set(adminHeaders).send(body).expect(200);
  }

  async function adminKey(tenantId: string, body: Body = {}): Promise<CreatedKey> {
    const res = track(
      await t.http
        .post('/admin/api-keys')
        .set(adminHeaders)
        .send({ tenantId, ...body }),
    );
    expect(outcome(res)).toBe('201');
    return res.body;
  }

  /** A service key with every scope: the tenant's key manager. */
  const managerKey = (tenantId: string) => adminKey(tenantId, { name: 'manager', scopes: [...SCOPES] });

  async function createKey(headers: Headers, body: Body = {}): Promise<CreatedKey> {
    const res = track(await t.http.post('/v1/api-keys').set(headers).send(body));
    expect(outcome(res)).toBe('201');
    return res.body;
  }

  async function getKey(headers: Headers, id: string): Promise<KeyDto> {
    const res = await t.http.get(`/v1/api-keys/${id}`).set(headers);
    expect(outcome(res)).toBe('200');
    return res.body;
  }

  /** What a request authenticated by this key gets from GET /auth/me: "200" or "<status> <code>". */
  async function use(key: string): Promise<string> {
    return outcome(await t.http.get('/auth/me').set(withKey(key)));
  }

  async function rotate(headers: Headers, id: string, body: Body = {}): Promise<CreatedKey> {
    const res = track(await t.http.post(`/v1/api-keys/${id}/rotate`).set(headers).send(body));
    expect(outcome(res)).toBe('201');
    return res.body;
  }

  it('seed flow: the operator makes the first key, it makes a second, which reads /config until the first revokes it', async () => {
    const tenant = await createTenant(t);
    const first = await adminKey(tenant.id, {
      name: 'bootstrap',
      scopes: ['keys:read', 'keys:write', 'config:read', 'config:write'],
    });
    expect(first).toMatchObject({
      name: 'bootstrap',
      ownerId: null,
      status: 'active',
      expiresAt: null,
      scopes: ['keys:read', 'keys:write', 'config:read', 'config:write'],
    });
    expect(first.apiKey).toMatch(KEY_SHAPE);
    await t.http.put('/v1/config/entries/region').set(withKey(first.apiKey)).send({ value: 'eu-west' }).expect(200);

    const second = await createKey(withKey(first.apiKey), { name: 'ci', scopes: ['config:read'] });
    expect(second).toMatchObject({ name: 'ci', ownerId: null, scopes: ['config:read'], status: 'active' });
    expect(second.apiKey).toMatch(KEY_SHAPE);
    expect(second.apiKey).not.toBe(first.apiKey);

    const config = await t.http.get('/config').set(withKey(second.apiKey)).expect(200);
    expect(config.body).toEqual({ region: 'eu-west' });

    await t.http.delete(`/v1/api-keys/${second.id}`).set(withKey(first.apiKey)).expect(204);
    const refused = await t.http.get('/config').set(withKey(second.apiKey)).expect(401);
    expect(refused.body).toMatchObject({ statusCode: 401, code: 'KEY_REVOKED' });
    expect(await use(first.apiKey)).toBe('200');
  });

  describe('denials', () => {
    it('answer every failure with its status and code, on the API and through /v1/keys/verify', async () => {
      const tenant = await createTenant(t);
      const other = await createTenant(t);
      const manager = await managerKey(tenant.id);
      const verifier = await adminKey(tenant.id, { scopes: ['keys:verify'] });
      const valid = await adminKey(tenant.id);
      const revoked = await adminKey(tenant.id);
      const disabled = await adminKey(tenant.id);
      const expiring = await adminKey(tenant.id, { expiresAt: new Date(Date.now() + HOUR).toISOString() });
      const narrow = await adminKey(tenant.id, { scopes: ['keys:read'] });
      const fenced = await adminKey(tenant.id, { scopes: ['config:read'], ipAllowlist: ['10.0.0.0/8'] });
      const suspended = await adminKey(other.id, { scopes: ['config:read'] });
      const unknown = t.app.get(ApiKeyVerifier).format.generate();
      const last = valid.apiKey.slice(-1);
      const badChecksum = valid.apiKey.slice(0, -1) + (last === 'a' ? 'b' : 'a');

      // Each key is used once first, so every change below must get past a cached verification.
      for (const key of [revoked, disabled, expiring, suspended]) expect(await use(key.apiKey)).toBe('200');
      await t.http.delete(`/v1/api-keys/${revoked.id}`).set(withKey(manager.apiKey)).expect(204);
      await t.http
        .patch(`/v1/api-keys/${disabled.id}`)
        .set(withKey(manager.apiKey))
        .send({ disabled: true })
        .expect(200);
      await patchTenant(other.id, { status: 'suspended' });
      advanceClock(2 * HOUR);

      const config = async (headers: Headers, query = '') => outcome(await t.http.get(`/config${query}`).set(headers));
      expect({
        'no key': await config({}),
        'empty header': await config(withKey('')),
        malformed: await config(withKey('kw_not-a-key')),
        'bad checksum': await config(withKey(badChecksum)),
        'foreign prefix': await config(withKey(`sk_${valid.apiKey.slice(3)}`)),
        unknown: await config(withKey(unknown)),
        revoked: await config(withKey(revoked.apiKey)),
        expired: await config(withKey(expiring.apiKey)),
        disabled: await config(withKey(disabled.apiKey)),
        'tenant suspended': await config(withKey(suspended.apiKey)),
        'missing scope': await config(withKey(narrow.apiKey)),
        'outside allowlist': await config(withKey(fenced.apiKey)),
        'key in query': await config({}, `?api_key=${valid.apiKey}`),
        'key in query and header': await config(withKey(valid.apiKey), `?key=${valid.apiKey}`),
        valid: await config(withKey(valid.apiKey)),
      }).toEqual({
        'no key': '401 KEY_MISSING',
        'empty header': '401 KEY_MALFORMED',
        malformed: '401 KEY_MALFORMED',
        'bad checksum': '401 KEY_MALFORMED',
        'foreign prefix': '401 KEY_MALFORMED',
        unknown: '401 KEY_NOT_FOUND',
        revoked: '401 KEY_REVOKED',
        expired: '401 KEY_EXPIRED',
        disabled: '403 KEY_DISABLED',
        'tenant suspended': '403 TENANT_SUSPENDED',
        'missing scope': '403 INSUFFICIENT_SCOPE',
        'outside allowlist': '403 KEY_IP_NOT_ALLOWED',
        'key in query': '400 KEY_IN_QUERY',
        'key in query and header': '400 KEY_IN_QUERY',
        valid: '200',
      });

      const verify = async (key: string, requiredScopes?: string[]) => {
        const res = await t.http
          .post('/v1/keys/verify')
          .set(withKey(verifier.apiKey))
          .send({ key, requiredScopes })
          .expect(200);
        return `${res.body.valid} ${res.body.code}`;
      };
      expect({
        malformed: await verify('kw_not-a-key'),
        'bad checksum': await verify(badChecksum),
        unknown: await verify(unknown),
        revoked: await verify(revoked.apiKey),
        expired: await verify(expiring.apiKey),
        disabled: await verify(disabled.apiKey),
        'missing scope': await verify(narrow.apiKey, ['config:read']),
        'outside allowlist': await verify(fenced.apiKey),
        'other tenant': await verify(suspended.apiKey),
        valid: await verify(valid.apiKey, ['config:read', 'keys:read']),
      }).toEqual({
        malformed: 'false KEY_MALFORMED',
        'bad checksum': 'false KEY_MALFORMED',
        unknown: 'false KEY_NOT_FOUND',
        revoked: 'false KEY_REVOKED',
        expired: 'false KEY_EXPIRED',
        disabled: 'false KEY_DISABLED',
        'missing scope': 'false INSUFFICIENT_SCOPE',
        // Verification on someone's behalf has no client address to hold against the allowlist.
        'outside allowlist': 'true VALID',
        'other tenant': 'false KEY_NOT_FOUND',
        valid: 'true VALID',
      });
    });

    it.each(['api_key', 'apikey', 'apiKey', 'key', 'x-api-key', 'access_token'])(
      'refuses a key sent as ?%s= with 400 KEY_IN_QUERY',
      async (name) => {
        const key = await adminKey(main.tenant.id);
        const res = await t.http.get(`/v1/api-keys?${name}=${key.apiKey}`).expect(400);
        expect(res.body).toMatchObject({ code: 'KEY_IN_QUERY' });
      },
    );

    it('asks for a key on key-only routes with 401 KEY_MISSING', async () => {
      const res = await t.http.post('/v1/keys/verify').send({ key: 'kw_x' }).expect(401);
      expect(res.body).toMatchObject({ code: 'KEY_MISSING' });
    });
  });

  describe('endpoints', () => {
    it('POST /admin/api-keys issues a checksummed key, stores only its HMAC and a hint', async () => {
      const member = await createUser(t, main.tenant.id, 'member');
      const key = await adminKey(main.tenant.id, { name: 'ops', userId: member.id });
      expect(key).toMatchObject({
        id: expect.stringMatching(UUID),
        name: 'ops',
        ownerId: member.id,
        scopes: DEFAULT_SCOPES,
        status: 'active',
        disabled: false,
        expiresAt: null,
        revokedAt: null,
        graceUntil: null,
        metadata: {},
        lastUsedAt: null,
      });
      expect(key.apiKey).toMatch(KEY_SHAPE);
      expect(t.app.get(ApiKeyVerifier).format.isWellFormed(key.apiKey)).toBe(true);
      const secret = key.apiKey.slice('kw_'.length);
      expect(key.hint).toBe(`kw_${secret.slice(0, 4)}…${secret.slice(-4)}`);
      const [row] = await db().query('SELECT key_hash, hint FROM api_keys WHERE id = $1', [key.id]);
      expect(row).toEqual({
        key_hash: createHmac('sha256', t.config.keyPepper).update(key.apiKey).digest('hex'),
        hint: key.hint,
      });

      const service = await adminKey(main.tenant.id);
      expect(service).toMatchObject({ ownerId: null, name: 'API key', scopes: DEFAULT_SCOPES });
    });

    it('POST /admin/api-keys needs the admin token, an existing tenant and a user of that tenant', async () => {
      const other = await createTenant(t);
      const stranger = await createUser(t, other.id, 'member');
      expect(outcome(await t.http.post('/admin/api-keys').send({ tenantId: main.tenant.id }))).toBe(
        '401 ADMIN_TOKEN_INVALID',
      );
      expect(
        outcome(await t.http.post('/admin/api-keys').set(main.owner.auth).send({ tenantId: main.tenant.id })),
      ).toBe('401 ADMIN_TOKEN_INVALID');
      expect(outcome(await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: randomUUID() }))).toBe(
        '404 NOT_FOUND',
      );
      expect(
        outcome(
          await t.http
            .post('/admin/api-keys')
            .set(adminHeaders)
            .send({ tenantId: main.tenant.id, userId: stranger.id }),
        ),
      ).toBe('404 NOT_FOUND');
      expect(outcome(await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: 'nope' }))).toBe(
        '400 VALIDATION_FAILED',
      );
    });

    it('POST /v1/api-keys takes name, scopes, expiry, rate limit, allowlist and metadata', async () => {
      const key = await createKey(main.owner.auth, {
        name: 'deploy',
        scopes: ['keys:read', 'config:read'],
        expiresInDays: 30,
        rateLimit: { limit: 100, windowSeconds: 60 },
        ipAllowlist: ['127.0.0.1/32', '::1'],
        metadata: { team: 'infra', tags: ['a', 'b'] },
      });
      expect(key).toMatchObject({
        name: 'deploy',
        ownerId: main.owner.id,
        scopes: ['keys:read', 'config:read'],
        rateLimit: { limit: 100, windowSeconds: 60 },
        ipAllowlist: ['127.0.0.1/32', '::1'],
        metadata: { team: 'infra', tags: ['a', 'b'] },
        status: 'active',
      });
      expect(Math.abs(Date.parse(key.expiresAt!) - (Date.now() + 30 * DAY))).toBeLessThan(MINUTE);

      const expiresAt = new Date(Date.now() + 3 * DAY).toISOString();
      const plain = await createKey(main.owner.auth, { expiresAt });
      expect(plain).toMatchObject({
        name: 'API key',
        scopes: DEFAULT_SCOPES,
        expiresAt,
        rateLimit: null,
        ipAllowlist: null,
        metadata: {},
      });
    });

    it.each<[string, Body]>([
      ['an unknown scope', { scopes: ['root'] }],
      ['a repeated scope', { scopes: ['keys:read', 'keys:read'] }],
      ['an expiry that is not a date', { expiresAt: 'tomorrow' }],
      ['an expiry in the past', { expiresAt: new Date(Date.now() - MINUTE).toISOString() }],
      ['both expiresAt and expiresInDays', { expiresAt: new Date(Date.now() + DAY).toISOString(), expiresInDays: 2 }],
      ['zero expiresInDays', { expiresInDays: 0 }],
      ['a rate limit of 0', { rateLimit: { limit: 0, windowSeconds: 1 } }],
      ['an empty name', { name: '' }],
      ['an unknown property', { owner: 'me' }],
      ['a userId that is not a uuid', { userId: 'someone' }],
    ])('POST /v1/api-keys refuses %s with 400', async (_label, body) => {
      const res = track(await t.http.post('/v1/api-keys').set(main.owner.auth).send(body));
      expect(outcome(res)).toBe('400 VALIDATION_FAILED');
    });

    it('GET /v1/api-keys pages through the keys, newest first', async () => {
      const tenant = await createTenant(t);
      const manager = await managerKey(tenant.id);
      const made: string[] = [manager.id];
      for (let i = 0; i < 4; i++) made.push((await adminKey(tenant.id, { name: `k${i}` })).id);

      const pages: KeyDto[][] = [];
      for (const page of [1, 2, 3]) {
        const res = await t.http.get(`/v1/api-keys?limit=2&page=${page}`).set(withKey(manager.apiKey)).expect(200);
        expect(res.body).toMatchObject({ page, limit: 2, total: 5 });
        pages.push(res.body.items);
      }
      expect(pages.map((items) => items.length)).toEqual([2, 2, 1]);
      const ids = pages.flat().map((key) => key.id);
      expect(new Set(ids)).toEqual(new Set(made));
      const created = pages.flat().map((key) => Date.parse(key.createdAt));
      expect(created).toEqual([...created].sort((a, b) => b - a));

      expect(outcome(await t.http.get('/v1/api-keys?limit=101').set(withKey(manager.apiKey)))).toBe(
        '400 VALIDATION_FAILED',
      );
      expect(outcome(await t.http.get('/v1/api-keys?page=0').set(withKey(manager.apiKey)))).toBe(
        '400 VALIDATION_FAILED',
      );
    });

    it('GET /v1/api-keys filters by owner and by status, and every listed key has the asked status', async () => {
      const tenant = await createTenant(t);
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const member = await createUser(t, tenant.id, 'member');
      const service = await createKey(owner.auth, { service: true, name: 'service' });
      const own = await createKey(owner.auth, { name: 'own' });
      const members = await createKey(owner.auth, { userId: member.id, name: 'members' });
      const disabled = await createKey(owner.auth, { name: 'disabled' });
      const revoked = await createKey(owner.auth, { name: 'revoked' });
      const expiring = await createKey(owner.auth, {
        name: 'expiring',
        expiresAt: new Date(Date.now() + HOUR).toISOString(),
      });
      // Rotated with a grace period capped at its expiry: once past, it is over, not merely expired.
      const retired = await createKey(owner.auth, {
        name: 'retired',
        expiresAt: new Date(Date.now() + HOUR).toISOString(),
      });
      const successor = await rotate(owner.auth, retired.id);
      await t.http.patch(`/v1/api-keys/${disabled.id}`).set(owner.auth).send({ disabled: true }).expect(200);
      await t.http.delete(`/v1/api-keys/${revoked.id}`).set(owner.auth).expect(204);
      advanceClock(2 * HOUR);

      const list = async (query: string) => {
        const res = await t.http.get(`/v1/api-keys?limit=100&${query}`).set(owner.auth).expect(200);
        return res.body.items as KeyDto[];
      };
      const names = (items: KeyDto[]) => items.map((key) => key.name).sort();

      expect(names(await list('owner=service'))).toEqual(['service']);
      expect(names(await list(`owner=${member.id}`))).toEqual(['members']);
      expect(names(await list(`owner=${owner.id}`))).toEqual(
        ['disabled', 'expiring', 'own', 'retired', 'retired', 'revoked'].sort(),
      );
      expect(await list(`owner=${randomUUID()}`)).toEqual([]);

      const byStatus: Record<string, string[]> = {};
      for (const status of ['active', 'disabled', 'revoked', 'expired']) {
        const items = await list(`status=${status}`);
        expect(items.map((key) => key.status)).toEqual(items.map(() => status));
        byStatus[status] = items.map((key) => key.id).sort();
      }
      expect(byStatus).toEqual({
        active: [service.id, own.id, members.id].sort(),
        disabled: [disabled.id],
        revoked: [revoked.id, retired.id].sort(),
        expired: [expiring.id, successor.id].sort(),
      });

      for (const query of ['owner=someone', 'owner=------------------------------------', 'status=gone']) {
        expect([query, outcome(await t.http.get(`/v1/api-keys?${query}`).set(owner.auth))]).toEqual([
          query,
          '400 VALIDATION_FAILED',
        ]);
      }
    });

    it('GET /v1/api-keys/:id shows one key; PATCH renames, narrows, sets limits and metadata', async () => {
      const key = await createKey(main.owner.auth, {
        name: 'before',
        scopes: ['keys:read', 'keys:write', 'config:read'],
      });
      expect(await getKey(main.owner.auth, key.id)).toMatchObject({
        id: key.id,
        name: 'before',
        hint: key.hint,
        ownerId: main.owner.id,
      });

      const res = await t.http
        .patch(`/v1/api-keys/${key.id}`)
        .set(main.owner.auth)
        .send({
          name: 'after',
          scopes: ['keys:read'],
          rateLimit: { limit: 5, windowSeconds: 1 },
          metadata: { ticket: 42 },
        })
        .expect(200);
      const expected = {
        name: 'after',
        scopes: ['keys:read'],
        rateLimit: { limit: 5, windowSeconds: 1 },
        metadata: { ticket: 42 },
      };
      expect(res.body).toMatchObject(expected);
      expect(await getKey(main.owner.auth, key.id)).toMatchObject(expected);
      const me = await t.http.get('/auth/me').set(withKey(key.apiKey)).expect(200);
      expect(me.body.scopes).toEqual(['keys:read']);
    });

    it('the :id routes refuse an id that is not a uuid with 400 and an unknown one with 404', async () => {
      const calls = (id: string) => ({
        get: t.http.get(`/v1/api-keys/${id}`).set(main.owner.auth),
        patch: t.http.patch(`/v1/api-keys/${id}`).set(main.owner.auth).send({ name: 'x' }),
        delete: t.http.delete(`/v1/api-keys/${id}`).set(main.owner.auth),
        rotate: t.http.post(`/v1/api-keys/${id}/rotate`).set(main.owner.auth).send({}),
      });
      const results: Record<string, string> = {};
      for (const [label, id] of [
        ['bad', 'not-a-uuid'],
        ['unknown', randomUUID()],
      ]) {
        for (const [method, call] of Object.entries(calls(id))) results[`${method} ${label}`] = outcome(await call);
      }
      expect(results).toEqual({
        'get bad': '400 BAD_REQUEST',
        'patch bad': '400 BAD_REQUEST',
        'delete bad': '400 BAD_REQUEST',
        'rotate bad': '400 BAD_REQUEST',
        'get unknown': '404 NOT_FOUND',
        'patch unknown': '404 NOT_FOUND',
        'delete unknown': '404 NOT_FOUND',
        'rotate unknown': '404 NOT_FOUND',
      });
    });

    it('DELETE /v1/api-keys/:id revokes for good: again is a no-op, and a revoked key cannot be changed or rotated', async () => {
      const key = await createKey(main.owner.auth);
      await t.http.delete(`/v1/api-keys/${key.id}`).set(main.owner.auth).expect(204);
      await t.http.delete(`/v1/api-keys/${key.id}`).set(main.owner.auth).expect(204);
      const after = await getKey(main.owner.auth, key.id);
      expect(after).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
      expect(outcome(await t.http.patch(`/v1/api-keys/${key.id}`).set(main.owner.auth).send({ disabled: false }))).toBe(
        '409 KEY_REVOKED',
      );
      expect(outcome(track(await t.http.post(`/v1/api-keys/${key.id}/rotate`).set(main.owner.auth).send({})))).toBe(
        '409 KEY_NOT_ACTIVE',
      );
      expect(await use(key.apiKey)).toBe('401 KEY_REVOKED');
    });

    it('answers with a trailing slash too', async () => {
      const manager = await managerKey(main.tenant.id);
      const created = track(await t.http.post('/v1/api-keys/').set(main.owner.auth).send({ name: 'slash' }));
      expect(outcome(created)).toBe('201');
      const id = created.body.id;
      expect({
        'POST /admin/api-keys/': outcome(
          track(await t.http.post('/admin/api-keys/').set(adminHeaders).send({ tenantId: main.tenant.id })),
        ),
        'GET /v1/api-keys/': outcome(await t.http.get('/v1/api-keys/').set(main.owner.auth)),
        'GET /v1/api-keys/:id/': outcome(await t.http.get(`/v1/api-keys/${id}/`).set(withKey(manager.apiKey))),
        'PATCH /v1/api-keys/:id/': outcome(
          await t.http.patch(`/v1/api-keys/${id}/`).set(main.owner.auth).send({ name: 'slashed' }),
        ),
        'POST /v1/keys/verify/': outcome(
          await t.http.post('/v1/keys/verify/').set(withKey(manager.apiKey)).send({ key: created.body.apiKey }),
        ),
        'GET /config/': outcome(await t.http.get('/config/').set(withKey(manager.apiKey))),
        'GET /auth/api-key/list/': outcome(await t.http.get('/auth/api-key/list/').set(main.owner.auth)),
        'DELETE /v1/api-keys/:id/': outcome(await t.http.delete(`/v1/api-keys/${id}/`).set(main.owner.auth)),
      }).toEqual({
        'POST /admin/api-keys/': '201',
        'GET /v1/api-keys/': '200',
        'GET /v1/api-keys/:id/': '200',
        'PATCH /v1/api-keys/:id/': '200',
        'POST /v1/keys/verify/': '200',
        'GET /config/': '200',
        'GET /auth/api-key/list/': '200',
        'DELETE /v1/api-keys/:id/': '204',
      });
      expect(await use(created.body.apiKey)).toBe('401 KEY_REVOKED');
    });

    it('POST /v1/keys/verify describes a valid key of the caller’s tenant', async () => {
      const verifier = await adminKey(main.tenant.id, { scopes: ['keys:verify'] });
      const expiresAt = new Date(Date.now() + DAY).toISOString();
      const key = await createKey(main.member.auth, { scopes: ['config:read'], expiresAt });
      const before = Date.now();
      const res = await t.http
        .post('/v1/keys/verify')
        .set(withKey(verifier.apiKey))
        .send({ key: key.apiKey, requiredScopes: ['config:read'] })
        .expect(200);
      const after = Date.now();
      expect(res.body).toMatchObject({
        valid: true,
        code: 'VALID',
        keyId: key.id,
        tenantId: main.tenant.id,
        ownerId: main.member.id,
        scopes: ['config:read'],
        permissions: [],
        roles: [],
        identity: null,
        remaining: null,
        expiresAt,
        // The one use this check spent, of the tenant's default limit; no quota, no identity.
        ratelimits: [{ name: 'default', limit: 100, remaining: 99, reset: expect.any(Number) }],
      });
      // reset is the moment the one-second window ends, in Unix milliseconds.
      expect(res.body.ratelimits[0].reset).toBeGreaterThanOrEqual(before);
      expect(res.body.ratelimits[0].reset).toBeLessThanOrEqual(after + 1000);

      const without = await adminKey(main.tenant.id, { scopes: ['keys:read'] });
      expect(outcome(await t.http.post('/v1/keys/verify').set(withKey(without.apiKey)).send({ key: key.apiKey }))).toBe(
        '403 INSUFFICIENT_SCOPE',
      );
      expect(outcome(await t.http.post('/v1/keys/verify').set(main.owner.auth).send({ key: key.apiKey }))).toBe(
        '401 KEY_MISSING',
      );
    });

    it('the CLI endpoints generate, list and revoke (by full key or id) the signed-in user’s own keys', async () => {
      const user = await signIn(t, await createUser(t, main.tenant.id, 'member'));
      const generate = (headers: Headers, body: Body = {}) =>
        t.http.post('/auth/api-key/generate').set(headers).send(body);
      const first = track(await generate(user.auth, { name: 'laptop', scopes: ['keys:read'] }));
      const second = track(await generate(user.auth, { name: 'desktop' }));
      expect(outcome(first)).toBe('201');
      expect(first.body).toMatchObject({ name: 'laptop', ownerId: user.id, scopes: ['keys:read'] });
      expect(second.body).toMatchObject({ name: 'desktop', ownerId: user.id, scopes: DEFAULT_SCOPES });
      const othersKey = await createKey(main.owner.auth, { name: 'not yours' });

      const listed = async () =>
        ((await t.http.get('/auth/api-key/list').set(user.auth).expect(200)).body as KeyDto[])
          .map((key) => key.name)
          .sort();
      expect(await listed()).toEqual(['desktop', 'laptop']);

      expect(outcome(await t.http.delete(`/auth/api-key/revoke/${othersKey.apiKey}`).set(user.auth))).toBe(
        '404 NOT_FOUND',
      );
      expect(outcome(await t.http.delete(`/auth/api-key/revoke/${othersKey.id}`).set(user.auth))).toBe('404 NOT_FOUND');
      expect(outcome(await t.http.delete(`/auth/api-key/revoke/${first.body.apiKey}`).set(user.auth))).toBe('204');
      expect(await listed()).toEqual(['desktop']);
      expect(outcome(await t.http.delete(`/auth/api-key/revoke/${second.body.id}`).set(user.auth))).toBe('204');
      expect(await listed()).toEqual([]);
      expect(await use(first.body.apiKey)).toBe('401 KEY_REVOKED');
      expect(await use(second.body.apiKey)).toBe('401 KEY_REVOKED');
      expect(await use(othersKey.apiKey)).toBe('200');

      expect(outcome(track(await generate(user.auth, { userId: main.owner.id })))).toBe('400 VALIDATION_FAILED');
      expect(outcome(track(await generate(main.viewer.auth)))).toBe('403 INSUFFICIENT_SCOPE');
      expect(outcome(track(await generate(withKey(othersKey.apiKey))))).toBe('401 UNAUTHENTICATED');
      expect(outcome(await t.http.get('/auth/api-key/list').set(withKey(othersKey.apiKey)))).toBe(
        '401 UNAUTHENTICATED',
      );
    });

    it('DELETE /auth/api-key lets any key revoke itself, and only itself, without a scope', async () => {
      const key = await createKey(main.member.auth, { scopes: ['config:read'] });
      const other = await createKey(main.member.auth, { scopes: ['config:read'] });
      expect(outcome(await t.http.delete(`/v1/api-keys/${key.id}`).set(withKey(key.apiKey)))).toBe(
        '403 INSUFFICIENT_SCOPE',
      );
      expect(outcome(await t.http.delete('/auth/api-key').set(withKey(key.apiKey)))).toBe('204');
      expect(await use(key.apiKey)).toBe('401 KEY_REVOKED');
      expect(await use(other.apiKey)).toBe('200');
      expect(outcome(await t.http.delete('/auth/api-key').set(withKey(key.apiKey)))).toBe('401 KEY_REVOKED');
      expect(outcome(await t.http.delete('/auth/api-key').set(main.member.auth))).toBe('401 KEY_MISSING');
    });

    it('GET /auth/me with a key names the key, its owner and its scopes', async () => {
      const key = await createKey(main.member.auth, { scopes: ['keys:read', 'config:read'] });
      const me = await t.http.get('/auth/me').set(withKey(key.apiKey)).expect(200);
      expect(me.body).toMatchObject({
        kind: 'apiKey',
        apiKeyId: key.id,
        scopes: ['keys:read', 'config:read'],
        user: { id: main.member.id, role: 'member' },
        tenant: { id: main.tenant.id },
      });
      const service = await adminKey(main.tenant.id, { scopes: ['keys:verify'] });
      const serviceMe = await t.http.get('/auth/me').set(withKey(service.apiKey)).expect(200);
      expect(serviceMe.body).toMatchObject({
        kind: 'apiKey',
        apiKeyId: service.id,
        user: null,
        scopes: ['keys:verify'],
      });
    });
  });

  it('roles: every cell of who may do what with keys', async () => {
    const tenant = await tenantWithRoles(t);
    await patchTenant(tenant.tenant.id, { maxKeysPerUser: 100 });
    const other = await createUser(t, tenant.tenant.id, 'member');
    const othersKey = await adminKey(tenant.tenant.id, { userId: other.id, name: 'other' });
    const serviceKey = await adminKey(tenant.tenant.id, { name: 'service' });

    const created = (res: Response, owners: Record<string, string | null>) => {
      track(res);
      if (res.status !== 201) return outcome(res);
      const owner = Object.entries(owners).find(([, id]) => id === res.body.ownerId)?.[0] ?? 'someone else';
      return `201 owner=${owner}`;
    };

    const actual: Record<string, Record<string, string>> = {};
    for (const role of ['owner', 'admin', 'member', 'viewer'] as Role[]) {
      const actor = tenant[role];
      const owners = { self: actor.id, other: other.id, service: null };
      const target = await adminKey(tenant.tenant.id, { userId: other.id, name: `target of ${role}` });
      const list = await t.http.get('/v1/api-keys?limit=100').set(actor.auth);
      const listed: KeyDto[] = list.body.items ?? [];
      const revoke = await t.http.delete(`/v1/api-keys/${target.id}`).set(actor.auth);
      actual[role] = {
        'create own key': created(await t.http.post('/v1/api-keys').set(actor.auth).send({}), owners),
        'create service key': created(
          await t.http.post('/v1/api-keys').set(actor.auth).send({ service: true }),
          owners,
        ),
        'create key for another user': created(
          await t.http.post('/v1/api-keys').set(actor.auth).send({ userId: other.id }),
          owners,
        ),
        'list all keys':
          list.status === 200
            ? listed.every((key) => key.ownerId === actor.id)
              ? '200 own only'
              : '200 all'
            : outcome(list),
        "read another user's key": outcome(await t.http.get(`/v1/api-keys/${othersKey.id}`).set(actor.auth)),
        'read a service key': outcome(await t.http.get(`/v1/api-keys/${serviceKey.id}`).set(actor.auth)),
        "revoke another user's key": `${outcome(revoke)}, then ${await use(target.apiKey)}`,
      };
    }

    const full = {
      'create own key': '201 owner=self',
      'create service key': '201 owner=service',
      'create key for another user': '201 owner=other',
      'list all keys': '200 all',
      "read another user's key": '200',
      'read a service key': '200',
      "revoke another user's key": '204, then 401 KEY_REVOKED',
    };
    expect(actual).toEqual({
      owner: full,
      admin: full,
      member: {
        'create own key': '201 owner=self',
        'create service key': '403 FORBIDDEN',
        'create key for another user': '403 FORBIDDEN',
        'list all keys': '200 own only',
        "read another user's key": '404 NOT_FOUND',
        'read a service key': '404 NOT_FOUND',
        "revoke another user's key": '404 NOT_FOUND, then 200',
      },
      viewer: {
        'create own key': '403 INSUFFICIENT_SCOPE',
        'create service key': '403 INSUFFICIENT_SCOPE',
        'create key for another user': '403 INSUFFICIENT_SCOPE',
        'list all keys': '200 own only',
        "read another user's key": '404 NOT_FOUND',
        'read a service key': '404 NOT_FOUND',
        "revoke another user's key": '403 INSUFFICIENT_SCOPE, then 200',
      },
    });
  });

  it('another tenant’s key is not found on every :id route, by user or by key, and stays untouched', async () => {
    const manager = await managerKey(main.tenant.id);
    const other = await createTenant(t);
    const otherOwner = await signIn(t, await createUser(t, other.id, 'owner'));
    const victim = await createKey(otherOwner.auth, { name: 'theirs' });

    const results: Record<string, string> = {};
    for (const [who, headers] of [
      ['owner', main.owner.auth],
      ['key', withKey(manager.apiKey)],
    ] as const) {
      results[`GET by ${who}`] = outcome(await t.http.get(`/v1/api-keys/${victim.id}`).set(headers));
      results[`PATCH by ${who}`] = outcome(
        await t.http.patch(`/v1/api-keys/${victim.id}`).set(headers).send({ name: 'mine', disabled: true }),
      );
      results[`DELETE by ${who}`] = outcome(await t.http.delete(`/v1/api-keys/${victim.id}`).set(headers));
      results[`rotate by ${who}`] = outcome(
        track(await t.http.post(`/v1/api-keys/${victim.id}/rotate`).set(headers).send({ gracePeriodSeconds: 0 })),
      );
    }
    results['CLI revoke by full key'] = outcome(
      await t.http.delete(`/auth/api-key/revoke/${victim.apiKey}`).set(main.owner.auth),
    );
    results['CLI revoke by id'] = outcome(
      await t.http.delete(`/auth/api-key/revoke/${victim.id}`).set(main.owner.auth),
    );
    expect(results).toEqual(Object.fromEntries(Object.keys(results).map((label) => [label, '404 NOT_FOUND'])));
    expect(Object.keys(results)).toHaveLength(10);

    expect(await use(victim.apiKey)).toBe('200');
    expect(await getKey(otherOwner.auth, victim.id)).toMatchObject({
      name: 'theirs',
      status: 'active',
      disabled: false,
      graceUntil: null,
    });
    const theirs = await t.http.get('/v1/api-keys').set(otherOwner.auth).expect(200);
    expect(theirs.body.items.map((key: KeyDto) => key.id)).toEqual([victim.id]);
    const ours = await t.http.get('/v1/api-keys?limit=100').set(withKey(manager.apiKey)).expect(200);
    expect(ours.body.items.map((key: KeyDto) => key.id)).not.toContain(victim.id);
    const byOwner = await t.http.get(`/v1/api-keys?owner=${otherOwner.id}`).set(main.owner.auth).expect(200);
    expect(byOwner.body).toMatchObject({ items: [], total: 0 });
  });

  describe('scopes never widen', () => {
    it('a key cannot create a key with more scopes, and passes on only its own by default', async () => {
      const parent = await createKey(main.owner.auth, { scopes: ['keys:write', 'config:read'] });
      expect(
        outcome(
          track(
            await t.http
              .post('/v1/api-keys')
              .set(withKey(parent.apiKey))
              .send({ scopes: ['config:read', 'config:secrets'] }),
          ),
        ),
      ).toBe('403 SCOPE_NOT_ALLOWED');
      expect(
        outcome(
          track(
            await t.http
              .post('/v1/api-keys')
              .set(withKey(parent.apiKey))
              .send({ scopes: ['keys:read'] }),
          ),
        ),
      ).toBe('403 SCOPE_NOT_ALLOWED');
      const child = await createKey(withKey(parent.apiKey));
      // The tenant's defaults (config:read, keys:read) within the parent's own scopes.
      expect(child).toMatchObject({ ownerId: main.owner.id, scopes: ['config:read'] });
      const narrower = await createKey(withKey(parent.apiKey), { scopes: ['config:read'] });
      expect(narrower.scopes).toEqual(['config:read']);
    });

    it('a key can create keys only for its own owner', async () => {
      const parent = await createKey(main.owner.auth, { scopes: ['keys:write', 'config:read'] });
      expect(
        outcome(track(await t.http.post('/v1/api-keys').set(withKey(parent.apiKey)).send({ service: true }))),
      ).toBe('403 FORBIDDEN');
      expect(
        outcome(track(await t.http.post('/v1/api-keys').set(withKey(parent.apiKey)).send({ userId: main.member.id }))),
      ).toBe('403 FORBIDDEN');
    });

    it('PATCH can only narrow scopes, whoever asks', async () => {
      const key = await createKey(main.owner.auth, { scopes: ['keys:read', 'keys:write'] });
      for (const headers of [main.owner.auth, withKey(key.apiKey)]) {
        const res = await t.http
          .patch(`/v1/api-keys/${key.id}`)
          .set(headers)
          .send({ scopes: ['keys:read', 'keys:write', 'config:read'] });
        expect(outcome(res)).toBe('403 SCOPE_NOT_ALLOWED');
      }
      expect((await getKey(main.owner.auth, key.id)).scopes).toEqual(['keys:read', 'keys:write']);
      const narrowed = await t.http
        .patch(`/v1/api-keys/${key.id}`)
        .set(withKey(key.apiKey))
        .send({ scopes: ['keys:write'] })
        .expect(200);
      expect(narrowed.body.scopes).toEqual(['keys:write']);
      const back = await t.http
        .patch(`/v1/api-keys/${key.id}`)
        .set(main.owner.auth)
        .send({ scopes: ['keys:read', 'keys:write'] });
      expect(outcome(back)).toBe('403 SCOPE_NOT_ALLOWED');
    });

    it('no one grants a user’s key more than the user’s role allows', async () => {
      const post = (headers: Headers, body: Body) => t.http.post('/v1/api-keys').set(headers).send(body);
      expect({
        'member for self': outcome(track(await post(main.member.auth, { scopes: ['config:write'] }))),
        'owner for a member': outcome(
          track(await post(main.owner.auth, { userId: main.member.id, scopes: ['config:secrets'] })),
        ),
        'operator for a viewer': outcome(
          track(
            await t.http
              .post('/admin/api-keys')
              .set(adminHeaders)
              .send({ tenantId: main.tenant.id, userId: main.viewer.id, scopes: ['keys:write'] }),
          ),
        ),
      }).toEqual({
        'member for self': '403 SCOPE_NOT_ALLOWED',
        'owner for a member': '403 SCOPE_NOT_ALLOWED',
        'operator for a viewer': '403 SCOPE_NOT_ALLOWED',
      });
      const viewerKey = await adminKey(main.tenant.id, { userId: main.viewer.id });
      expect(viewerKey.scopes).toEqual(['config:read', 'keys:read']);
    });

    it('a key loses what its owner’s new role no longer allows, at once', async () => {
      const tenant = await createTenant(t);
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const member = await createUser(t, tenant.id, 'member');
      const key = await adminKey(tenant.id, { userId: member.id, scopes: ['keys:read', 'keys:write', 'config:read'] });
      expect((await t.http.get('/auth/me').set(withKey(key.apiKey)).expect(200)).body.scopes).toEqual([
        'keys:read',
        'keys:write',
        'config:read',
      ]);
      await t.http.patch(`/v1/users/${member.id}`).set(owner.auth).send({ role: 'viewer' }).expect(200);
      expect((await t.http.get('/auth/me').set(withKey(key.apiKey)).expect(200)).body.scopes).toEqual([
        'keys:read',
        'config:read',
      ]);
      expect(outcome(track(await t.http.post('/v1/api-keys').set(withKey(key.apiKey)).send({})))).toBe(
        '403 INSUFFICIENT_SCOPE',
      );
    });

    it('a key cannot rotate a key that has more scopes or a longer life than itself', async () => {
      const wide = await createKey(main.owner.auth, {
        scopes: ['keys:read', 'keys:write', 'config:read', 'config:secrets'],
      });
      const narrow = await createKey(main.owner.auth, { scopes: ['keys:read', 'keys:write'] });
      const res = track(
        await t.http.post(`/v1/api-keys/${wide.id}/rotate`).set(withKey(narrow.apiKey)).send({ gracePeriodSeconds: 0 }),
      );
      expect(outcome(res)).toBe('403 SCOPE_NOT_ALLOWED');
      expect(await use(wide.apiKey)).toBe('200');

      const lasting = await createKey(main.owner.auth, { scopes: ['keys:read'] });
      const shortLived = await createKey(main.owner.auth, {
        scopes: ['keys:read', 'keys:write'],
        expiresAt: new Date(Date.now() + HOUR).toISOString(),
      });
      const outlive = track(
        await t.http.post(`/v1/api-keys/${lasting.id}/rotate`).set(withKey(shortLived.apiKey)).send({}),
      );
      expect(outcome(outlive)).toBe('403 EXPIRY_NOT_ALLOWED');

      // Rotating itself, or a key within its own reach, is fine.
      const self = await rotate(withKey(narrow.apiKey), narrow.id, { gracePeriodSeconds: 60 });
      expect(self.scopes).toEqual(['keys:read', 'keys:write']);
    });
  });

  describe('expiry', () => {
    it('a key past its expiresAt is refused on the next request, although its verification is cached', async () => {
      const expiresAt = new Date(Date.now() + HOUR).toISOString();
      const key = await createKey(main.owner.auth, { expiresAt, scopes: ['keys:read', 'keys:write', 'config:read'] });
      expect(key.expiresAt).toBe(expiresAt);
      expect(await use(key.apiKey)).toBe('200');

      advanceClock(HOUR - MINUTE);
      expect(await use(key.apiKey)).toBe('200');
      advanceClock(HOUR + 1_000);
      expect(await use(key.apiKey)).toBe('401 KEY_EXPIRED');
      expect(outcome(await t.http.get('/config').set(withKey(key.apiKey)))).toBe('401 KEY_EXPIRED');
      expect(await getKey(main.owner.auth, key.id)).toMatchObject({ status: 'expired', expiresAt });
      expect(outcome(track(await t.http.post(`/v1/api-keys/${key.id}/rotate`).set(main.owner.auth).send({})))).toBe(
        '409 KEY_NOT_ACTIVE',
      );
    });

    it('a key creates keys that expire no later than itself', async () => {
      const expiresAt = new Date(Date.now() + DAY).toISOString();
      const parent = await createKey(main.owner.auth, { expiresAt, scopes: ['keys:read', 'keys:write'] });
      const inherited = await createKey(withKey(parent.apiKey));
      expect(inherited.expiresAt).toBe(expiresAt);
      const sooner = new Date(Date.now() + HOUR).toISOString();
      expect((await createKey(withKey(parent.apiKey), { expiresAt: sooner })).expiresAt).toBe(sooner);
      const later = new Date(Date.now() + 2 * DAY).toISOString();
      expect(
        outcome(track(await t.http.post('/v1/api-keys').set(withKey(parent.apiKey)).send({ expiresAt: later }))),
      ).toBe('403 EXPIRY_NOT_ALLOWED');
      expect(
        outcome(track(await t.http.post('/v1/api-keys').set(withKey(parent.apiKey)).send({ expiresInDays: 2 }))),
      ).toBe('403 EXPIRY_NOT_ALLOWED');

      advanceClock(DAY + MINUTE);
      expect(await use(inherited.apiKey)).toBe('401 KEY_EXPIRED');
    });

    it('PATCH can only bring expiry forward', async () => {
      const key = await createKey(main.owner.auth, { expiresInDays: 2 });
      const later = new Date(Date.now() + 3 * DAY).toISOString();
      expect(
        outcome(await t.http.patch(`/v1/api-keys/${key.id}`).set(main.owner.auth).send({ expiresAt: later })),
      ).toBe('403 EXPIRY_NOT_ALLOWED');
      const past = new Date(Date.now() - MINUTE).toISOString();
      expect(outcome(await t.http.patch(`/v1/api-keys/${key.id}`).set(main.owner.auth).send({ expiresAt: past }))).toBe(
        '400 VALIDATION_FAILED',
      );
      const sooner = new Date(Date.now() + HOUR).toISOString();
      const res = await t.http
        .patch(`/v1/api-keys/${key.id}`)
        .set(main.owner.auth)
        .send({ expiresAt: sooner })
        .expect(200);
      expect(res.body.expiresAt).toBe(sooner);
      expect(await use(key.apiKey)).toBe('200');
      advanceClock(HOUR + MINUTE);
      expect(await use(key.apiKey)).toBe('401 KEY_EXPIRED');
    });

    it('the tenant’s maxKeyLifetimeDays caps and defaults the expiry of new keys', async () => {
      const tenant = await createTenant(t);
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      await patchTenant(tenant.id, { maxKeyLifetimeDays: 30 });
      const near = (iso: string | null, ms: number) =>
        iso !== null && Math.abs(Date.parse(iso) - (Date.now() + ms)) < MINUTE;

      const defaulted = await createKey(owner.auth);
      expect(near(defaulted.expiresAt, 30 * DAY)).toBe(true);
      expect(near((await adminKey(tenant.id)).expiresAt, 30 * DAY)).toBe(true);
      expect(near((await createKey(owner.auth, { expiresInDays: 30 })).expiresAt, 30 * DAY)).toBe(true);
      expect(near((await createKey(owner.auth, { expiresInDays: 7 })).expiresAt, 7 * DAY)).toBe(true);
      expect(outcome(track(await t.http.post('/v1/api-keys').set(owner.auth).send({ expiresInDays: 31 })))).toBe(
        '403 EXPIRY_NOT_ALLOWED',
      );
      const beyond = new Date(Date.now() + 31 * DAY).toISOString();
      expect(
        outcome(
          track(
            await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: tenant.id, expiresAt: beyond }),
          ),
        ),
      ).toBe('403 EXPIRY_NOT_ALLOWED');
    });
  });

  describe('rotation', () => {
    it('gives a new key with the same name, scopes, owner and settings; the old one works until the grace ends', async () => {
      const key = await createKey(main.owner.auth, {
        name: 'rotating',
        scopes: ['keys:read', 'config:read'],
        userId: main.member.id,
        metadata: { env: 'prod' },
        rateLimit: { limit: 10, windowSeconds: 1 },
        ipAllowlist: ['127.0.0.0/8'],
      });
      expect(await use(key.apiKey)).toBe('200');

      const rotated = await rotate(main.owner.auth, key.id, { gracePeriodSeconds: 2 * 3600 });
      expect(rotated).toMatchObject({
        name: 'rotating',
        scopes: ['keys:read', 'config:read'],
        ownerId: main.member.id,
        metadata: { env: 'prod' },
        rateLimit: { limit: 10, windowSeconds: 1 },
        ipAllowlist: ['127.0.0.0/8'],
        expiresAt: null,
        rotatedFromId: key.id,
        status: 'active',
      });
      expect(rotated.id).not.toBe(key.id);
      expect(rotated.apiKey).toMatch(KEY_SHAPE);
      expect(rotated.apiKey).not.toBe(key.apiKey);
      const old = await getKey(main.owner.auth, key.id);
      expect(old.status).toBe('rotating');
      expect(Math.abs(Date.parse(old.graceUntil!) - (Date.now() + 2 * HOUR))).toBeLessThan(MINUTE);

      expect([await use(key.apiKey), await use(rotated.apiKey)]).toEqual(['200', '200']);
      advanceClock(HOUR);
      expect([await use(key.apiKey), await use(rotated.apiKey)]).toEqual(['200', '200']);
      advanceClock(2 * HOUR + MINUTE);
      expect([await use(key.apiKey), await use(rotated.apiKey)]).toEqual(['401 KEY_REVOKED', '200']);
      expect((await getKey(main.owner.auth, key.id)).status).toBe('revoked');
    });

    it('never lets the grace period run past the old key’s expiry', async () => {
      const expiresAt = new Date(Date.now() + HOUR).toISOString();
      const key = await createKey(main.owner.auth, { expiresAt });
      const rotated = await rotate(main.owner.auth, key.id);
      expect(rotated.expiresAt).toBe(expiresAt);
      expect((await getKey(main.owner.auth, key.id)).graceUntil).toBe(expiresAt);

      advanceClock(30 * MINUTE);
      expect(await use(key.apiKey)).toBe('200');
      advanceClock(HOUR + MINUTE);
      expect(await use(key.apiKey)).toMatch(/^401 KEY_(REVOKED|EXPIRED)$/);
    });

    it('with gracePeriodSeconds 0 revokes the old key at once', async () => {
      const key = await createKey(main.owner.auth, { scopes: ['config:read', 'keys:read', 'keys:write'] });
      expect(await use(key.apiKey)).toBe('200');
      const rotated = await rotate(withKey(key.apiKey), key.id, { gracePeriodSeconds: 0 });
      expect(await use(key.apiKey)).toBe('401 KEY_REVOKED');
      expect(await use(rotated.apiKey)).toBe('200');
      expect(await getKey(main.owner.auth, key.id)).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
    });

    it('takes a grace period of 0 to 7 days only', async () => {
      const key = await createKey(main.owner.auth);
      for (const gracePeriodSeconds of [-1, 604_801, 1.5, '60']) {
        const res = track(
          await t.http.post(`/v1/api-keys/${key.id}/rotate`).set(main.owner.auth).send({ gracePeriodSeconds }),
        );
        expect([gracePeriodSeconds, outcome(res)]).toEqual([gracePeriodSeconds, '400 VALIDATION_FAILED']);
      }
      await rotate(main.owner.auth, key.id, { gracePeriodSeconds: 604_800 });
      const old = await getKey(main.owner.auth, key.id);
      expect(Math.abs(Date.parse(old.graceUntil!) - (Date.now() + 7 * DAY))).toBeLessThan(MINUTE);
    });

    it('a key already rotated away cannot be rotated again, so its grace is never extended', async () => {
      const key = await createKey(main.owner.auth, { scopes: ['config:read', 'keys:read', 'keys:write'] });
      await rotate(main.owner.auth, key.id, { gracePeriodSeconds: 60 });
      const graceUntil = (await getKey(main.owner.auth, key.id)).graceUntil;
      for (const headers of [main.owner.auth, withKey(key.apiKey)]) {
        const again = track(
          await t.http.post(`/v1/api-keys/${key.id}/rotate`).set(headers).send({ gracePeriodSeconds: 604_800 }),
        );
        expect(outcome(again)).toBe('409 KEY_ALREADY_ROTATED');
      }
      expect((await getKey(main.owner.auth, key.id)).graceUntil).toBe(graceUntil);
      advanceClock(2 * MINUTE);
      expect(await use(key.apiKey)).toBe('401 KEY_REVOKED');
    });

    it('the default grace period is 24 hours', async () => {
      const key = await createKey(main.owner.auth);
      await rotate(main.owner.auth, key.id);
      const old = await getKey(main.owner.auth, key.id);
      expect(Math.abs(Date.parse(old.graceUntil!) - (Date.now() + DAY))).toBeLessThan(MINUTE);
      advanceClock(DAY - MINUTE);
      expect(await use(key.apiKey)).toBe('200');
      advanceClock(DAY + MINUTE);
      expect(await use(key.apiKey)).toBe('401 KEY_REVOKED');
    });
  });

  it('disabling a key is reversible and takes effect at once', async () => {
    const key = await createKey(main.owner.auth, { name: 'toggle' });
    expect(await use(key.apiKey)).toBe('200');
    const off = await t.http.patch(`/v1/api-keys/${key.id}`).set(main.owner.auth).send({ disabled: true }).expect(200);
    expect(off.body).toMatchObject({ disabled: true, status: 'disabled' });
    expect(await use(key.apiKey)).toBe('403 KEY_DISABLED');
    expect(
      outcome(await t.http.patch(`/v1/api-keys/${key.id}`).set(withKey(key.apiKey)).send({ disabled: false })),
    ).toBe('403 KEY_DISABLED');
    const disabled = await t.http.get('/v1/api-keys?status=disabled&limit=100').set(main.owner.auth).expect(200);
    expect(disabled.body.items.map((item: KeyDto) => item.id)).toContain(key.id);

    const on = await t.http.patch(`/v1/api-keys/${key.id}`).set(main.owner.auth).send({ disabled: false }).expect(200);
    expect(on.body).toMatchObject({ disabled: false, status: 'active' });
    expect(await use(key.apiKey)).toBe('200');
  });

  describe('IP allowlist', () => {
    it('refuses a key outside its allowlist, accepts it inside, and follows changes at once', async () => {
      const fenced = await createKey(main.owner.auth, { ipAllowlist: ['10.0.0.0/8'] });
      const local = await createKey(main.owner.auth, { ipAllowlist: ['127.0.0.1/32'] });
      expect([await use(fenced.apiKey), await use(local.apiKey)]).toEqual(['403 KEY_IP_NOT_ALLOWED', '200']);

      await t.http
        .patch(`/v1/api-keys/${fenced.id}`)
        .set(main.owner.auth)
        .send({ ipAllowlist: ['10.0.0.0/8', '127.0.0.0/8'] })
        .expect(200);
      await t.http
        .patch(`/v1/api-keys/${local.id}`)
        .set(main.owner.auth)
        .send({ ipAllowlist: ['192.168.0.0/16'] })
        .expect(200);
      expect([await use(fenced.apiKey), await use(local.apiKey)]).toEqual(['200', '403 KEY_IP_NOT_ALLOWED']);

      const cleared = await t.http
        .patch(`/v1/api-keys/${local.id}`)
        .set(main.owner.auth)
        .send({ ipAllowlist: [] })
        .expect(200);
      expect(cleared.body.ipAllowlist).toBeNull();
      expect(await use(local.apiKey)).toBe('200');
    });

    it('a confined key passes its allowlist on and cannot create, change or rotate a key beyond it', async () => {
      // The test client comes from 127.0.0.1, so the confined key itself is usable here.
      const confined = await createKey(main.owner.auth, {
        scopes: ['keys:read', 'keys:write', 'config:read'],
        ipAllowlist: ['127.0.0.0/8', '10.0.0.0/8'],
      });
      const asConfined = withKey(confined.apiKey);
      const post = async (body: Body) => outcome(track(await t.http.post('/v1/api-keys').set(asConfined).send(body)));
      expect({
        none: await post({ ipAllowlist: [] }),
        wider: await post({ ipAllowlist: ['127.0.0.0/7'] }),
        outside: await post({ ipAllowlist: ['192.168.0.1'] }),
        'partly outside': await post({ ipAllowlist: ['10.1.0.0/16', '172.16.0.0/12'] }),
      }).toEqual({
        none: '403 IP_ALLOWLIST_NOT_ALLOWED',
        wider: '403 IP_ALLOWLIST_NOT_ALLOWED',
        outside: '403 IP_ALLOWLIST_NOT_ALLOWED',
        'partly outside': '403 IP_ALLOWLIST_NOT_ALLOWED',
      });

      const inherited = await createKey(asConfined);
      expect(inherited.ipAllowlist).toEqual(['127.0.0.0/8', '10.0.0.0/8']);
      const narrower = await createKey(asConfined, { ipAllowlist: ['127.0.0.1', '10.1.0.0/16'] });
      expect(narrower.ipAllowlist).toEqual(['127.0.0.1', '10.1.0.0/16']);

      // Neither its own allowlist nor another key's can be opened up by it; narrowing is fine.
      for (const id of [confined.id, inherited.id]) {
        const opened = await t.http.patch(`/v1/api-keys/${id}`).set(asConfined).send({ ipAllowlist: [] });
        expect(outcome(opened)).toBe('403 IP_ALLOWLIST_NOT_ALLOWED');
      }
      expect((await getKey(main.owner.auth, confined.id)).ipAllowlist).toEqual(['127.0.0.0/8', '10.0.0.0/8']);
      const narrowed = await t.http
        .patch(`/v1/api-keys/${inherited.id}`)
        .set(asConfined)
        .send({ ipAllowlist: ['127.0.0.1'] });
      expect(outcome(narrowed)).toBe('200');

      // Rotating a key usable from anywhere would hand out such a key.
      const open = await createKey(main.owner.auth, { scopes: ['keys:read'] });
      const rotated = track(
        await t.http.post(`/v1/api-keys/${open.id}/rotate`).set(asConfined).send({ gracePeriodSeconds: 0 }),
      );
      expect(outcome(rotated)).toBe('403 IP_ALLOWLIST_NOT_ALLOWED');
      expect(await use(open.apiKey)).toBe('200');
      expect((await rotate(asConfined, narrower.id, { gracePeriodSeconds: 0 })).ipAllowlist).toEqual([
        '127.0.0.1',
        '10.1.0.0/16',
      ]);

      // People are bounded by their role, not by a key's network.
      const byOwner = await t.http.patch(`/v1/api-keys/${confined.id}`).set(main.owner.auth).send({ ipAllowlist: [] });
      expect([outcome(byOwner), byOwner.body.ipAllowlist]).toEqual(['200', null]);
    });

    it.each(['10.0.0.0/33', '10.0.0/8', 'example.com', '::1/129', '10.0.0.1/8/1', '10.0.0.0/', '', 'localhost'])(
      'refuses %p as an allowlist entry with 400',
      async (entry) => {
        const key = await createKey(main.owner.auth);
        const created = track(
          await t.http
            .post('/v1/api-keys')
            .set(main.owner.auth)
            .send({ ipAllowlist: [entry] }),
        );
        const patched = await t.http
          .patch(`/v1/api-keys/${key.id}`)
          .set(main.owner.auth)
          .send({ ipAllowlist: ['127.0.0.1', entry] });
        expect([outcome(created), outcome(patched)]).toEqual(['400 VALIDATION_FAILED', '400 VALIDATION_FAILED']);
      },
    );
  });

  it('refuses metadata over 4 kB, counted in bytes', async () => {
    const key = await createKey(main.owner.auth);
    const post = (metadata: unknown) => t.http.post('/v1/api-keys').set(main.owner.auth).send({ metadata });
    const patch = (metadata: unknown) => t.http.patch(`/v1/api-keys/${key.id}`).set(main.owner.auth).send({ metadata });
    expect({
      'ascii over': outcome(track(await post({ blob: 'x'.repeat(4100) }))),
      'multibyte over': outcome(track(await post({ blob: 'é'.repeat(2100) }))),
      array: outcome(track(await post(['a']))),
      'patch over': outcome(await patch({ blob: 'x'.repeat(4100) })),
      'just under': outcome(track(await post({ blob: 'x'.repeat(4000) }))),
      'patch under': outcome(await patch({ blob: 'é'.repeat(2000) })),
    }).toEqual({
      'ascii over': '400 VALIDATION_FAILED',
      'multibyte over': '400 VALIDATION_FAILED',
      array: '400 VALIDATION_FAILED',
      'patch over': '400 VALIDATION_FAILED',
      'just under': '201',
      'patch under': '200',
    });
  });

  describe('limits', () => {
    it('refuse keys over the per-user and per-tenant limits with 403 KEY_LIMIT_REACHED', async () => {
      const tenant = await createTenant(t);
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      await patchTenant(tenant.id, { maxKeysPerUser: 2, maxKeysPerTenant: 3 });
      const post = async (headers: Headers, body: Body = {}) =>
        outcome(track(await t.http.post('/v1/api-keys').set(headers).send(body)));

      const first = await createKey(owner.auth);
      await createKey(owner.auth);
      expect(await post(owner.auth)).toBe('403 KEY_LIMIT_REACHED');
      expect(await post(owner.auth, { service: true })).toBe('201');
      expect(await post(owner.auth, { service: true })).toBe('403 KEY_LIMIT_REACHED');
      expect(outcome(track(await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: tenant.id })))).toBe(
        '403 KEY_LIMIT_REACHED',
      );
      expect(outcome(track(await t.http.post('/auth/api-key/generate').set(owner.auth).send({})))).toBe(
        '403 KEY_LIMIT_REACHED',
      );

      // A revoked key no longer counts.
      await t.http.delete(`/v1/api-keys/${first.id}`).set(owner.auth).expect(204);
      expect(await post(owner.auth)).toBe('201');
      expect(await post(owner.auth, { service: true })).toBe('403 KEY_LIMIT_REACHED');
    });

    it('hold under concurrent creations', async () => {
      const tenant = await createTenant(t);
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      await patchTenant(tenant.id, { maxKeysPerUser: 3 });
      const results = await Promise.all(
        Array.from({ length: 8 }, () => t.http.post('/v1/api-keys').set(owner.auth).send({})),
      );
      results.forEach(track);
      expect(results.map(outcome).sort()).toEqual(['201', '201', '201', ...Array(5).fill('403 KEY_LIMIT_REACHED')]);
    });

    it('count keys in their grace period, so rotating never yields more working keys than the caps', async () => {
      const tenant = await createTenant(t);
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      await patchTenant(tenant.id, { maxKeysPerUser: 2, maxKeysPerTenant: 3 });
      const first = await createKey(owner.auth, { scopes: ['keys:read', 'keys:write', 'config:read'] });
      const second = await createKey(owner.auth);
      const rotateAs = async (headers: Headers, id: string, body: Body = {}) =>
        outcome(track(await t.http.post(`/v1/api-keys/${id}/rotate`).set(headers).send(body)));

      // At the cap, a rotation with a grace period would make a third working key: by a person or by a key.
      expect(await rotateAs(owner.auth, first.id)).toBe('403 KEY_LIMIT_REACHED');
      expect(await rotateAs(withKey(first.apiKey), second.id, { gracePeriodSeconds: 60 })).toBe(
        '403 KEY_LIMIT_REACHED',
      );
      expect([await use(first.apiKey), await use(second.apiKey)]).toEqual(['200', '200']);
      // Without grace the old key ends first, so its place passes to the new one.
      const successor = await rotate(owner.auth, first.id, { gracePeriodSeconds: 0 });
      expect(await rotateAs(owner.auth, successor.id)).toBe('403 KEY_LIMIT_REACHED');

      // The tenant cap: a service key in its grace period holds a place too.
      const service = await createKey(owner.auth, { service: true });
      expect(await rotateAs(owner.auth, service.id)).toBe('403 KEY_LIMIT_REACHED');
      await t.http.delete(`/v1/api-keys/${second.id}`).set(owner.auth).expect(204);
      const rotatedService = await rotate(owner.auth, service.id, { gracePeriodSeconds: 3600 });
      // Old and new service key both work, and together they fill the tenant's 3 places.
      expect([await use(service.apiKey), await use(rotatedService.apiKey)]).toEqual(['200', '200']);
      expect(outcome(track(await t.http.post('/v1/api-keys').set(owner.auth).send({})))).toBe('403 KEY_LIMIT_REACHED');
      const active = await t.http.get('/v1/api-keys?status=active').set(owner.auth).expect(200);
      expect(active.body.total).toBe(3);
    });

    it('hold under concurrent creations and rotations', async () => {
      const tenant = await createTenant(t);
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      await patchTenant(tenant.id, { maxKeysPerUser: 3 });
      const [a, b] = [await createKey(owner.auth), await createKey(owner.auth)];
      const results = await Promise.all([
        t.http.post(`/v1/api-keys/${a.id}/rotate`).set(owner.auth).send({}),
        t.http.post(`/v1/api-keys/${b.id}/rotate`).set(owner.auth).send({}),
        ...Array.from({ length: 4 }, () => t.http.post('/v1/api-keys').set(owner.auth).send({})),
      ]);
      results.forEach(track);
      expect(results.map(outcome).sort()).toEqual(['201', ...Array(5).fill('403 KEY_LIMIT_REACHED')]);
      const working = await db().query(
        'SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL',
        [tenant.id],
      );
      expect(working[0].n).toBe(3);
    });
  });

  describe('a caller changes only a key it could have created', () => {
    it('a keys:write-only key cannot lift a stronger key’s allowlist, quota or rate limit, nor enable it again', async () => {
      const strong = await createKey(main.owner.auth, {
        name: 'strong',
        scopes: [...SCOPES],
        ipAllowlist: ['10.0.0.0/8'],
        quota: { remaining: 100 },
        rateLimit: { limit: 5, windowSeconds: 60 },
      });
      await t.http.patch(`/v1/api-keys/${strong.id}`).set(main.owner.auth).send({ disabled: true }).expect(200);
      const narrow = await createKey(main.owner.auth, { scopes: ['keys:write'] });
      const patch = async (body: Body) =>
        outcome(await t.http.patch(`/v1/api-keys/${strong.id}`).set(withKey(narrow.apiKey)).send(body));
      expect({
        allowlist: await patch({ ipAllowlist: [] }),
        quota: await patch({ quota: null }),
        rateLimit: await patch({ rateLimit: { limit: 1_000_000, windowSeconds: 1 } }),
        enable: await patch({ disabled: false }),
        rename: await patch({ name: 'mine now' }),
        rotate: outcome(
          track(await t.http.post(`/v1/api-keys/${strong.id}/rotate`).set(withKey(narrow.apiKey)).send({})),
        ),
      }).toEqual({
        allowlist: '403 SCOPE_NOT_ALLOWED',
        quota: '403 SCOPE_NOT_ALLOWED',
        rateLimit: '403 SCOPE_NOT_ALLOWED',
        enable: '403 SCOPE_NOT_ALLOWED',
        rename: '403 SCOPE_NOT_ALLOWED',
        rotate: '403 SCOPE_NOT_ALLOWED',
      });
      expect(await getKey(main.owner.auth, strong.id)).toMatchObject({
        name: 'strong',
        disabled: true,
        ipAllowlist: ['10.0.0.0/8'],
        quota: { remaining: 100 },
        rateLimit: { limit: 5, windowSeconds: 60 },
      });
      // The owner holds every scope and may; ending a key hands out nothing, so the narrow key may revoke it.
      expect(
        outcome(await t.http.patch(`/v1/api-keys/${strong.id}`).set(main.owner.auth).send({ disabled: false })),
      ).toBe('200');
      expect(outcome(await t.http.delete(`/v1/api-keys/${strong.id}`).set(withKey(narrow.apiKey)))).toBe('204');
    });

    it('with the same scopes, a key cannot lift another key past its own allowlist, quota, rate limit or expiry', async () => {
      const changer = await createKey(main.owner.auth, {
        scopes: ['keys:read', 'keys:write', 'config:read'],
        ipAllowlist: ['127.0.0.0/8'],
        quota: { remaining: 1000 },
        rateLimit: { limit: 100, windowSeconds: 1 },
        expiresInDays: 10,
      });
      const asChanger = withKey(changer.apiKey);
      const target = await createKey(main.owner.auth, {
        scopes: ['config:read'],
        ipAllowlist: ['127.0.0.1'],
        quota: { remaining: 10 },
        rateLimit: { limit: 3, windowSeconds: 60 },
        expiresInDays: 5,
      });
      const patch = async (body: Body) =>
        outcome(await t.http.patch(`/v1/api-keys/${target.id}`).set(asChanger).send(body));
      expect({
        allowlist: await patch({ ipAllowlist: [] }),
        'no quota': await patch({ quota: null }),
        'more uses': await patch({ quota: { remaining: 5000 } }),
        rate: await patch({ rateLimit: { limit: 1000, windowSeconds: 1 } }),
        'within its own': await patch({
          ipAllowlist: ['127.0.0.0/16'],
          quota: { remaining: 500 },
          rateLimit: { limit: 50, windowSeconds: 1 },
        }),
      }).toEqual({
        allowlist: '403 IP_ALLOWLIST_NOT_ALLOWED',
        'no quota': '403 QUOTA_NOT_ALLOWED',
        'more uses': '403 QUOTA_NOT_ALLOWED',
        rate: '403 RATE_LIMIT_NOT_ALLOWED',
        'within its own': '200',
      });
      // A key that outlives the changer is beyond it, whatever the change.
      const longLived = await createKey(main.owner.auth, {
        scopes: ['config:read'],
        ipAllowlist: ['127.0.0.1'],
        quota: { remaining: 1 },
        rateLimit: { limit: 1, windowSeconds: 1 },
      });
      expect(outcome(await t.http.patch(`/v1/api-keys/${longLived.id}`).set(asChanger).send({ name: 'renamed' }))).toBe(
        '403 EXPIRY_NOT_ALLOWED',
      );
    });
  });

  it('suspending the tenant refuses its keys on the very next request, and reactivating restores them', async () => {
    const tenant = await createTenant(t);
    const key = await adminKey(tenant.id);
    expect(await use(key.apiKey)).toBe('200');
    await patchTenant(tenant.id, { status: 'suspended' });
    expect(await use(key.apiKey)).toBe('403 TENANT_SUSPENDED');
    expect(outcome(await t.http.get('/config').set(withKey(key.apiKey)))).toBe('403 TENANT_SUSPENDED');
    await patchTenant(tenant.id, { status: 'active' });
    expect(await use(key.apiKey)).toBe('200');
  });

  it('disabling the owner refuses their keys at once; service keys are unaffected', async () => {
    const tenant = await createTenant(t);
    const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
    const member = await createUser(t, tenant.id, 'member');
    const key = await adminKey(tenant.id, { userId: member.id });
    const service = await adminKey(tenant.id);
    expect(await use(key.apiKey)).toBe('200');

    const disabled = await t.http.patch(`/v1/users/${member.id}`).set(owner.auth).send({ status: 'disabled' });
    expect(disabled.body).toMatchObject({ status: 'disabled', suspendedKeys: 1 });
    expect(await use(key.apiKey)).toBe('401 KEY_REVOKED');
    expect(await use(service.apiKey)).toBe('200');
    expect(
      outcome(
        track(await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: tenant.id, userId: member.id })),
      ),
    ).toBe('404 NOT_FOUND');

    await t.http.patch(`/v1/users/${member.id}`).set(owner.auth).send({ status: 'active' }).expect(200);
    expect(await use(key.apiKey)).toBe('200');
  });

  it('records last use in memory and writes it in a batch', async () => {
    const usage = t.app.get(KeyUsageService);
    const key = await createKey(main.owner.auth);
    const periodic = jest.spyOn(usage, 'flush').mockResolvedValue();
    const before = Date.now();
    for (let i = 0; i < 3; i++) expect(await use(key.apiKey)).toBe('200');
    expect((await getKey(main.owner.auth, key.id)).lastUsedAt).toBeNull();
    const [pending] = await db().query('SELECT last_used_at, usage_count::int AS count FROM api_keys WHERE id = $1', [
      key.id,
    ]);
    expect(pending).toEqual({ last_used_at: null, count: 0 });

    periodic.mockRestore();
    await usage.flush();
    const lastUsedAt = (await getKey(main.owner.auth, key.id)).lastUsedAt;
    expect(lastUsedAt).not.toBeNull();
    expect(Date.parse(lastUsedAt!)).toBeGreaterThanOrEqual(before - 1_000);
    expect(Date.parse(lastUsedAt!)).toBeLessThanOrEqual(Date.now() + 1_000);
    const [written] = await db().query('SELECT usage_count::int AS count FROM api_keys WHERE id = $1', [key.id]);
    expect(written.count).toBe(3);
  });

  describe('the full key', () => {
    it('never appears in list, get, update, verify or CLI responses', async () => {
      const key = await createKey(main.owner.auth, { name: 'secret holder' });
      const verifier = await adminKey(main.tenant.id, { scopes: ['keys:verify', 'keys:read'] });
      const responses = [
        await t.http.get('/v1/api-keys?limit=100').set(main.owner.auth).expect(200),
        await t.http.get('/v1/api-keys?limit=100').set(withKey(verifier.apiKey)).expect(200),
        await t.http.get(`/v1/api-keys/${key.id}`).set(main.owner.auth).expect(200),
        await t.http.patch(`/v1/api-keys/${key.id}`).set(main.owner.auth).send({ name: 'renamed' }).expect(200),
        await t.http.get('/auth/api-key/list').set(main.owner.auth).expect(200),
        await t.http.post('/v1/keys/verify').set(withKey(verifier.apiKey)).send({ key: key.apiKey }).expect(200),
        await t.http.get('/auth/me').set(withKey(key.apiKey)).expect(200),
      ];
      const listed = responses[0].body.items.find((item: KeyDto) => item.id === key.id);
      expect(listed).toMatchObject({ hint: key.hint });
      expect(listed).not.toHaveProperty('apiKey');
      for (const res of responses) {
        const text = `${JSON.stringify(res.headers)}\n${res.text}`;
        for (const full of issued) expect(text.includes(full)).toBe(false);
        expect(text).not.toMatch(/key_?hash/i);
      }
    });

    it('is stored nowhere in the database and written to no log line', async () => {
      // A few more keys, by every way of making one.
      const tenant = await createTenant(t);
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const first = await adminKey(tenant.id, { scopes: [...SCOPES] });
      const second = await createKey(withKey(first.apiKey), { metadata: { note: 'made by a key' } });
      await rotate(owner.auth, second.id, { gracePeriodSeconds: 60 });
      track(await t.http.post('/auth/api-key/generate').set(owner.auth).send({}).expect(201));
      await t.http
        .put('/v1/config/entries/token')
        .set(withKey(first.apiKey))
        .send({ value: 'not a key', secret: true })
        .expect(200);
      for (const key of [first, second]) await use(key.apiKey);
      await t.app.get(KeyUsageService).flush();
      expect(issued.length).toBeGreaterThanOrEqual(4);

      const tables: { table_name: string }[] = await db().query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
      );
      expect(tables.map((row) => row.table_name)).toEqual(
        expect.arrayContaining(['api_keys', 'config_entries', 'tenants', 'users']),
      );
      const dump: string[] = [];
      for (const { table_name } of tables) {
        const rows: { row: string }[] = await db().query(`SELECT row_to_json(t)::text AS row FROM "${table_name}" t`);
        dump.push(...rows.map((r) => r.row));
      }
      // The scan does read the keys: their ids and HMACs are there.
      expect(
        dump.some(
          (row) =>
            row.includes(first.id) &&
            row.includes(createHmac('sha256', t.config.keyPepper).update(first.apiKey).digest('hex')),
        ),
      ).toBe(true);
      const text = dump.join('\n');
      // The secret part alone must not be there either, in case a prefix were stored apart.
      const found = issued.filter((full) => text.includes(full) || text.includes(full.slice('kw_'.length)));
      expect(found).toEqual([]);

      const logged = issued.filter((full) => t.logs.some((line) => line.includes(full.slice('kw_'.length))));
      expect(logged).toEqual([]);
    });
  });
});
