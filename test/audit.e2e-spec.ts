import { DataSource, EntityManager } from 'typeorm';
import { eventHash } from '../src/audit/audit-hash';
import { AuditService } from '../src/audit/audit.service';
import { KeyDenialsService } from '../src/audit/key-denials.service';
import { OneTimeTokensService } from '../src/auth/one-time-tokens.service';
import { Role } from '../src/common/auth/principal';
import { SCOPES } from '../src/common/auth/scopes';
import { Clock } from '../src/common/clock';
import {
  adminHeaders,
  createTenant,
  createUser,
  SignedIn,
  signIn,
  strongPassword,
  tenantWithRoles,
  TestTenant,
} from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';

type Headers = Record<string, string>;
interface EventDto {
  id: string;
  tenantId: string;
  seq: number;
  actor: { type: string; id: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  outcome: string;
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  metadata: Record<string, unknown>;
  count: number;
  occurredAt: string;
}

const DAY = 86_400_000;
const withKey = (key: string): Headers => ({ 'x-api-key': key });

describe('Audit trail', () => {
  let t: TestApp;
  let main: { tenant: TestTenant } & Record<Role, SignedIn>;

  beforeAll(async () => {
    t = await createTestApp();
    main = await tenantWithRoles(t);
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  const db = () => t.app.get(DataSource);
  const list = async (
    auth: Headers,
    query: Record<string, string | number> = {},
  ): Promise<{ items: EventDto[]; nextCursor: string | null }> =>
    (await t.http.get('/v1/audit-events').query(query).set(auth).expect(200)).body;
  const adminList = async (
    query: Record<string, string | number>,
  ): Promise<{ items: EventDto[]; nextCursor: string | null }> =>
    (await t.http.get('/admin/audit-events').query(query).set(adminHeaders).expect(200)).body;
  const verify = async (auth: Headers) => (await t.http.get('/v1/audit-events/verify').set(auth).expect(200)).body;
  const createKey = async (auth: Headers, body: Record<string, unknown> = {}) =>
    (
      await t.http
        .post('/v1/api-keys')
        .set(auth)
        .send({ name: 'k', ...body })
        .expect(201)
    ).body;
  /** Runs SQL around the append-only trigger, as someone with direct database access could. */
  const tamper = (sql: (m: EntityManager) => Promise<unknown>) =>
    db().transaction(async (m) => {
      await m.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
      await sql(m);
      await m.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only');
    });
  const adminKey = async (tenantId: string, scopes: string[] = [...SCOPES]) =>
    (await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId, scopes }).expect(201)).body as {
      id: string;
      apiKey: string;
    };

  /** A fresh tenant whose owner has made `keys` keys: a short chain to tamper with. */
  async function chain(keys = 4) {
    const tenant = await createTenant(t);
    const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
    for (let i = 0; i < keys; i++) await createKey(owner.auth, { name: `chain ${i}` });
    return { tenant, owner };
  }

  it('records each action with its actor, target and outcome', async () => {
    const recording = jest.spyOn(t.app.get(AuditService), 'record');
    type Expected = {
      action: string;
      actor: { type: string; id: string | null };
      target: { type: string; id: string | null };
      outcome?: string;
      tenantId?: string;
      reason?: string;
    };
    const owner = main.owner;
    const userActor = (u: { id: string }) => ({ type: 'user', id: u.id });
    const admin = { type: 'admin_token', id: null };
    const person = await createUser(t, main.tenant.id, 'member');
    const key = await createKey(owner.auth);
    const keyWithScopes = await createKey(owner.auth, { scopes: ['keys:write', 'keys:read'] });
    const tokens = t.app.get(OneTimeTokensService);

    const cases: { name: string; run: () => Promise<Expected> }[] = [
      {
        name: 'tenant.created',
        run: async () => {
          const tenant = await createTenant(t);
          return {
            action: 'tenant.created',
            actor: admin,
            target: { type: 'tenant', id: tenant.id },
            tenantId: tenant.id,
          };
        },
      },
      {
        name: 'tenant.updated',
        run: async () => {
          await t.http
            .patch(`/admin/tenants/${main.tenant.id}`)
            .set(adminHeaders)
            .send({ name: 'Renamed' })
            .expect(200);
          return { action: 'tenant.updated', actor: admin, target: { type: 'tenant', id: main.tenant.id } };
        },
      },
      {
        name: 'user.created',
        run: async () => {
          const user = await createUser(t, main.tenant.id, 'viewer');
          return { action: 'user.created', actor: admin, target: { type: 'user', id: user.id } };
        },
      },
      {
        name: 'user.invited',
        run: async () => {
          const res = await t.http
            .post('/v1/users/invitations')
            .set(owner.auth)
            .send({ email: `inv-${Date.now()}@example.com`, role: 'member' })
            .expect(201);
          return { action: 'user.invited', actor: userActor(owner), target: { type: 'user', id: res.body.id } };
        },
      },
      {
        name: 'auth.login',
        run: async () => {
          await t.http
            .post('/auth/login')
            .set({ 'user-agent': 'audit-agent/1', 'x-request-id': 'audit-req-1' })
            .send({ email: person.email, password: person.password })
            .expect(200);
          return { action: 'auth.login', actor: userActor(person), target: { type: 'user', id: person.id } };
        },
      },
      {
        name: 'auth.login_failed',
        run: async () => {
          await t.http
            .post('/auth/login')
            .send({ email: person.email, password: 'wrong password entirely' })
            .expect(401);
          return {
            action: 'auth.login_failed',
            actor: { type: 'user', id: null },
            target: { type: 'user', id: person.id },
            outcome: 'failure',
            reason: 'INVALID_PASSWORD',
          };
        },
      },
      {
        name: 'auth.logout',
        run: async () => {
          const signedIn = await signIn(t, person);
          const sessions = (await t.http.get('/auth/sessions').set(signedIn.auth).expect(200)).body as {
            id: string;
            current: boolean;
          }[];
          await t.http.post('/auth/logout').set(signedIn.auth).expect(204);
          return {
            action: 'auth.logout',
            actor: userActor(person),
            target: { type: 'session', id: sessions.find((s) => s.current)!.id },
          };
        },
      },
      {
        name: 'session.revoked',
        run: async () => {
          const first = await signIn(t, person);
          const second = await signIn(t, person);
          const sessions = (await t.http.get('/auth/sessions').set(second.auth).expect(200)).body as {
            id: string;
            current: boolean;
          }[];
          const other = (await t.http.get('/auth/sessions').set(first.auth).expect(200)).body.find(
            (s: { current: boolean }) => s.current,
          ).id;
          expect(sessions.map((s) => s.id)).toContain(other);
          await t.http.delete(`/auth/sessions/${other}`).set(second.auth).expect(204);
          return { action: 'session.revoked', actor: userActor(person), target: { type: 'session', id: other } };
        },
      },
      {
        name: 'password.changed',
        run: async () => {
          const signedIn = await signIn(t, person);
          const next = strongPassword();
          await t.http
            .post('/auth/password')
            .set(signedIn.auth)
            .send({ currentPassword: person.password, newPassword: next })
            .expect(204);
          person.password = next;
          return { action: 'password.changed', actor: userActor(person), target: { type: 'user', id: person.id } };
        },
      },
      {
        name: 'password.reset_requested',
        run: async () => {
          await t.http.post('/auth/password/forgot').send({ email: person.email }).expect(202);
          return {
            action: 'password.reset_requested',
            actor: { type: 'user', id: null },
            target: { type: 'user', id: person.id },
          };
        },
      },
      {
        name: 'password.reset',
        run: async () => {
          const issue = jest.spyOn(tokens, 'issue');
          await t.http.post('/auth/password/forgot').send({ email: person.email }).expect(202);
          const token = await issue.mock.results[0].value;
          const next = strongPassword();
          await t.http.post('/auth/password/reset').send({ token, newPassword: next }).expect(204);
          person.password = next;
          return { action: 'password.reset', actor: userActor(person), target: { type: 'user', id: person.id } };
        },
      },
      {
        name: 'user.role_changed',
        run: async () => {
          await t.http.patch(`/v1/users/${person.id}`).set(owner.auth).send({ role: 'viewer' }).expect(200);
          return { action: 'user.role_changed', actor: userActor(owner), target: { type: 'user', id: person.id } };
        },
      },
      {
        name: 'user.disabled',
        run: async () => {
          await t.http.patch(`/v1/users/${person.id}`).set(owner.auth).send({ status: 'disabled' }).expect(200);
          return { action: 'user.disabled', actor: userActor(owner), target: { type: 'user', id: person.id } };
        },
      },
      {
        name: 'key.created (by a user)',
        run: async () => {
          const created = await createKey(owner.auth);
          return { action: 'key.created', actor: userActor(owner), target: { type: 'api_key', id: created.id } };
        },
      },
      {
        name: 'key.created (by a key)',
        run: async () => {
          const created = await createKey(withKey(keyWithScopes.apiKey), { scopes: ['keys:read'] });
          return {
            action: 'key.created',
            actor: { type: 'api_key', id: keyWithScopes.id },
            target: { type: 'api_key', id: created.id },
          };
        },
      },
      {
        name: 'key.created (by the operator)',
        run: async () => {
          const created = await adminKey(main.tenant.id, ['keys:read']);
          return { action: 'key.created', actor: admin, target: { type: 'api_key', id: created.id } };
        },
      },
      {
        name: 'key.updated',
        run: async () => {
          await t.http.patch(`/v1/api-keys/${key.id}`).set(owner.auth).send({ name: 'renamed' }).expect(200);
          return { action: 'key.updated', actor: userActor(owner), target: { type: 'api_key', id: key.id } };
        },
      },
      {
        name: 'key.disabled',
        run: async () => {
          await t.http.patch(`/v1/api-keys/${key.id}`).set(owner.auth).send({ disabled: true }).expect(200);
          return { action: 'key.disabled', actor: userActor(owner), target: { type: 'api_key', id: key.id } };
        },
      },
      {
        name: 'key.enabled',
        run: async () => {
          await t.http.patch(`/v1/api-keys/${key.id}`).set(owner.auth).send({ disabled: false }).expect(200);
          return { action: 'key.enabled', actor: userActor(owner), target: { type: 'api_key', id: key.id } };
        },
      },
      {
        name: 'key.rotated',
        run: async () => {
          await t.http
            .post(`/v1/api-keys/${key.id}/rotate`)
            .set(owner.auth)
            .send({ gracePeriodSeconds: 0 })
            .expect(201);
          return { action: 'key.rotated', actor: userActor(owner), target: { type: 'api_key', id: key.id } };
        },
      },
      {
        name: 'key.revoked',
        run: async () => {
          const doomed = await createKey(owner.auth);
          await t.http.delete(`/v1/api-keys/${doomed.id}`).set(owner.auth).expect(204);
          return { action: 'key.revoked', actor: userActor(owner), target: { type: 'api_key', id: doomed.id } };
        },
      },
      {
        name: 'key.denied',
        run: async () => {
          const doomed = await createKey(owner.auth);
          await t.http.delete(`/v1/api-keys/${doomed.id}`).set(owner.auth).expect(204);
          await t.http.get('/v1/api-keys').set(withKey(doomed.apiKey)).expect(401);
          await t.app.get(KeyDenialsService).flush(true);
          return {
            action: 'key.denied',
            actor: { type: 'api_key', id: doomed.id },
            target: { type: 'api_key', id: doomed.id },
            outcome: 'denied',
            reason: 'KEY_REVOKED',
          };
        },
      },
      {
        name: 'config.changed',
        run: async () => {
          await t.http
            .put('/v1/config/entries/feature.flag')
            .set(owner.auth)
            .send({ value: 'top secret value', secret: true })
            .expect(200);
          return {
            action: 'config.changed',
            actor: userActor(owner),
            target: { type: 'config_entry', id: 'feature.flag' },
          };
        },
      },
    ];

    for (const { name, run } of cases) {
      const expected = await run();
      const tenantId = expected.tenantId ?? main.tenant.id;
      // A failed sign-in is written in the background: wait for every write the case started.
      await Promise.allSettled(recording.mock.results.map((result) => result.value));
      const found: EventDto | undefined = (
        await adminList({ tenantId, action: expected.action, targetId: expected.target.id!, limit: 1 })
      ).items[0];
      expect({
        name,
        event: found && {
          action: found.action,
          actor: found.actor,
          target: found.target,
          outcome: found.outcome,
          tenantId: found.tenantId,
        },
      }).toEqual({
        name,
        event: {
          action: expected.action,
          actor: expected.actor,
          target: expected.target,
          outcome: expected.outcome ?? 'success',
          tenantId,
        },
      });
      if (expected.reason) expect(found!.reason).toBe(expected.reason);
    }

    // Client details travel with the events that have them; secrets never do.
    const login = (await list(owner.auth, { action: 'auth.login', actorId: person.id })).items.at(-1)!;
    expect(login).toMatchObject({ userAgent: 'audit-agent/1', requestId: 'audit-req-1' });
    expect(login.ip).toBeTruthy();
    const all = JSON.stringify((await adminList({ tenantId: main.tenant.id, limit: 200 })).items);
    expect(all).not.toContain('top secret value');
    expect(all).not.toContain(key.apiKey);
    expect(await verify(owner.auth)).toMatchObject({ valid: true });
  });

  it('records no event for a sign-in with an unknown email, and answers the same', async () => {
    const recording = jest.spyOn(t.app.get(AuditService), 'record');
    const before = (await adminList({ action: 'auth.login_failed', limit: 200 })).items.length;
    const res = await t.http
      .post('/auth/login')
      .send({ email: 'nobody-here@example.com', password: 'whatever it is' })
      .expect(401);
    expect(res.body.code).toBe('INVALID_CREDENTIALS');
    // A failed sign-in starts its (background) audit write before answering: none was started.
    expect(recording.mock.calls.filter(([, event]) => event.action === 'auth.login_failed')).toEqual([]);
    expect((await adminList({ action: 'auth.login_failed', limit: 200 })).items.length).toBe(before);
  });

  describe('atomicity', () => {
    it('a failing audit write undoes the change', async () => {
      const audit = t.app.get(AuditService);
      jest.spyOn(audit, 'record').mockRejectedValue(new Error('audit store unavailable'));
      await t.http.post('/v1/api-keys').set(main.owner.auth).send({ name: 'never-stored' }).expect(500);
      const target = await createUser(t, main.tenant.id, 'member').catch(() => null);
      expect(target).toBeNull(); // user.created failed too: no user without its event
      const [{ count }] = await db().query(
        "SELECT count(*)::int AS count FROM api_keys WHERE tenant_id = $1 AND name = 'never-stored'",
        [main.tenant.id],
      );
      expect(count).toBe(0);
      jest.restoreAllMocks();

      const member = await createUser(t, main.tenant.id, 'member');
      jest.spyOn(audit, 'record').mockRejectedValue(new Error('audit store unavailable'));
      await t.http.patch(`/v1/users/${member.id}`).set(main.owner.auth).send({ role: 'viewer' }).expect(500);
      jest.restoreAllMocks();
      const [{ role }] = await db().query('SELECT role FROM users WHERE id = $1', [member.id]);
      expect(role).toBe('member');
    });

    it('a failing change writes no event', async () => {
      const { tenant, owner } = await chain(0);
      const before = (await list(owner.auth)).items.length;
      await t.http
        .post('/v1/users/invitations')
        .set(owner.auth)
        .send({ email: owner.email, role: 'member' })
        .expect(409);
      await t.http.patch(`/v1/users/${owner.id}`).set(owner.auth).send({ role: 'member' }).expect(409);
      await t.http
        .post('/v1/api-keys')
        .set(owner.auth)
        .send({ name: 'bad', scopes: ['no:such'] })
        .expect(400);
      const after = (await list(owner.auth)).items;
      expect(after.length).toBe(before);
      expect(after.every((e) => e.tenantId === tenant.id)).toBe(true);
    });
  });

  describe('hash chain', () => {
    it('verifies an untouched chain', async () => {
      const { owner } = await chain();
      expect(await verify(owner.auth)).toEqual({ valid: true, checked: 7 }); // tenant.created, user.created, auth.login, 4 × key.created
    });

    it('reports an edited row', async () => {
      const { tenant, owner } = await chain();
      await tamper((m) =>
        m.query("UPDATE audit_events SET actor_id = 'someone-else' WHERE tenant_id = $1 AND seq = 3", [tenant.id]),
      );
      expect(await verify(owner.auth)).toMatchObject({ valid: false, firstBrokenSeq: 3, reason: 'HASH_MISMATCH' });
    });

    it('reports a deleted row', async () => {
      const { tenant, owner } = await chain();
      await tamper((m) => m.query('DELETE FROM audit_events WHERE tenant_id = $1 AND seq = 4', [tenant.id]));
      expect(await verify(owner.auth)).toMatchObject({ valid: false, firstBrokenSeq: 5, reason: 'SEQ_GAP' });
    });

    it('reports an inserted row, even one whose own hash was forged correctly', async () => {
      const { tenant, owner } = await chain();
      await tamper(async (m) => {
        await m.query('UPDATE audit_events SET seq = seq + 1000 WHERE tenant_id = $1 AND seq > 3', [tenant.id]);
        await m.query('UPDATE audit_events SET seq = seq - 999 WHERE tenant_id = $1 AND seq > 1000', [tenant.id]);
        const [third] = await m.query('SELECT hash FROM audit_events WHERE tenant_id = $1 AND seq = 3', [tenant.id]);
        const forged = {
          tenantId: tenant.id,
          seq: 4,
          actorType: 'system',
          actorId: null,
          action: 'key.created',
          targetType: 'api_key',
          targetId: 'forged',
          outcome: 'success',
          reason: null,
          ip: null,
          userAgent: null,
          requestId: null,
          metadata: {},
          count: 1,
          occurredAt: new Date(),
        };
        await m.query(
          `INSERT INTO audit_events (tenant_id, seq, actor_type, action, target_type, target_id, outcome, occurred_at, prev_hash, hash)
           VALUES ($1, 4, 'system', 'key.created', 'api_key', 'forged', 'success', $2, $3, $4)`,
          [tenant.id, forged.occurredAt, third.hash, eventHash(third.hash, forged)],
        );
      });
      expect(await verify(owner.auth)).toMatchObject({ valid: false, firstBrokenSeq: 5, reason: 'PREV_HASH_MISMATCH' });
    });

    it('the trigger refuses UPDATE and DELETE from the application connection', async () => {
      const { tenant, owner } = await chain(1);
      await expect(
        db().query("UPDATE audit_events SET action = 'x' WHERE tenant_id = $1", [tenant.id]),
      ).rejects.toThrow(/append-only/);
      await expect(db().query('DELETE FROM audit_events WHERE tenant_id = $1', [tenant.id])).rejects.toThrow(
        /append-only/,
      );
      await expect(db().query('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
      expect(await verify(owner.auth)).toMatchObject({ valid: true });
    });

    it('a deleted tenant takes its chain with it', async () => {
      const { tenant } = await chain(1);
      await db().query('DELETE FROM tenants WHERE id = $1', [tenant.id]);
      const [{ count }] = await db().query('SELECT count(*)::int AS count FROM audit_events WHERE tenant_id = $1', [
        tenant.id,
      ]);
      expect(count).toBe(0);
    });

    it('concurrent appends never share a link', async () => {
      const { owner } = await chain(0);
      await Promise.all(Array.from({ length: 8 }, (_, i) => createKey(owner.auth, { name: `parallel ${i}` })));
      expect(await verify(owner.auth)).toEqual({ valid: true, checked: 11 });
    });
  });

  it('aggregates denied key uses: 50 requests, one row with count 50', async () => {
    const { tenant, owner } = await chain(0);
    const key = await createKey(owner.auth);
    const good = await createKey(owner.auth, { scopes: ['keys:read'] });
    await t.http.delete(`/v1/api-keys/${key.id}`).set(owner.auth).expect(204);
    const denials = t.app.get(KeyDenialsService);
    // All 50 fall in the minute before this one; until the clock leaves it, that minute is open.
    const minuteStart = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    jest.spyOn(t.app.get(Clock), 'now').mockReturnValue(new Date(minuteStart + 1_000));
    for (let i = 0; i < 50; i++)
      expect((await t.http.get('/v1/api-keys').set(withKey(key.apiKey))).body.code).toBe('KEY_REVOKED');
    for (let i = 0; i < 5; i++) await t.http.get('/v1/api-keys').set(withKey(good.apiKey)).expect(200);
    await denials.flush(); // the minute is not over yet: nothing written
    expect((await list(owner.auth, { action: 'key.denied' })).items).toEqual([]);
    jest.restoreAllMocks();
    await denials.flush();
    const rows = (await list(owner.auth, { action: 'key.denied' })).items;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      tenantId: tenant.id,
      count: 50,
      occurredAt: new Date(minuteStart).toISOString(),
      reason: 'KEY_REVOKED',
      outcome: 'denied',
      target: { type: 'api_key', id: key.id },
    });
    expect(rows[0].ip).toBeTruthy();
    expect((await list(owner.auth, { actorId: good.id })).items).toEqual([]); // successful uses are not audited
  });

  describe('listing', () => {
    it('filters, pages with a cursor and keeps tenants apart', async () => {
      const { tenant, owner } = await chain(7);
      const apiKey = await adminKey(tenant.id, ['audit:read']);
      const everything = (await list(owner.auth, { limit: 200 })).items;
      expect(everything.map((e) => e.seq)).toEqual([...everything.map((e) => e.seq)].sort((a, b) => b - a));

      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: EventDto[]; nextCursor: string | null } = await list(withKey(apiKey.apiKey), {
          limit: 3,
          ...(cursor ? { cursor } : {}),
        });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items.map((e) => e.seq));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(everything.map((e) => e.seq));

      const created = (await list(owner.auth, { action: 'key.created', actorType: 'user', actorId: owner.id })).items;
      expect(created).toHaveLength(7);
      expect((await list(owner.auth, { actorType: 'admin_token' })).items.map((e) => e.action).sort()).toEqual([
        'key.created',
        'tenant.created',
        'user.created',
      ]);
      expect((await list(owner.auth, { targetType: 'api_key', targetId: created[0].target!.id! })).items).toHaveLength(
        1,
      );
      expect((await list(owner.auth, { outcome: 'failure' })).items).toEqual([]);
      expect((await list(owner.auth, { to: '2000-01-01T00:00:00Z' })).items).toEqual([]);
      expect((await list(owner.auth, { from: new Date(Date.now() - 60_000).toISOString() })).items).toHaveLength(
        everything.length,
      );

      // Another tenant sees none of it, even when it asks for this tenant's ids.
      expect((await list(main.owner.auth, { targetId: created[0].target!.id! })).items).toEqual([]);
      expect((await list(main.owner.auth, { limit: 200 })).items.every((e) => e.tenantId === main.tenant.id)).toBe(
        true,
      );

      for (const bad of [
        { cursor: 'nonsense' },
        { limit: 201 },
        { outcome: 'maybe' },
        { from: 'yesterday' },
        { tenantId: tenant.id },
      ]) {
        await t.http.get('/v1/audit-events').query(bad).set(owner.auth).expect(400);
      }
    });

    it('exports CSV, escaped and safe to open in a spreadsheet', async () => {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.id, 'owner');
      await t.http
        .post('/auth/login')
        .set('user-agent', '=HYPERLINK("http://evil")')
        .send({ email: user.email, password: user.password })
        .expect(200);
      const owner = await signIn(t, user);
      await t.http
        .post('/auth/login')
        .set('user-agent', '-2+3,"quoted"')
        .send({ email: user.email, password: user.password })
        .expect(200);
      const res = await t.http
        .get('/v1/audit-events')
        .query({ format: 'csv', action: 'auth.login' })
        .set(owner.auth)
        .buffer(true)
        .expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const lines = res.text.trim().split('\r\n');
      expect(lines[0]).toBe(
        'occurredAt,seq,tenantId,actorType,actorId,action,targetType,targetId,outcome,reason,ip,userAgent,requestId,count,metadata,hash',
      );
      expect(lines).toHaveLength(4);
      expect(res.text).toContain(`,"'-2+3,""quoted""",`);
      expect(res.text).toContain(`,"'=HYPERLINK(""http://evil"")",`);
      expect(res.text).not.toMatch(/,=HYPERLINK/);
    });

    it('quotes cells with a semicolon or a formula start, so no spreadsheet splits them into a formula', async () => {
      const tenant = await createTenant(t);
      const user = await createUser(t, tenant.id, 'owner');
      await t.http
        .post('/auth/login')
        .set('user-agent', 'curl;=cmd|/C calc!A0')
        .send({ email: user.email, password: user.password })
        .expect(200);
      await t.http
        .post('/auth/login')
        .set('user-agent', '@SUM(1+1)')
        .send({ email: user.email, password: user.password })
        .expect(200);
      const owner = await signIn(t, user);
      const res = await t.http
        .get('/v1/audit-events')
        .query({ format: 'csv', action: 'auth.login' })
        .set(owner.auth)
        .buffer(true)
        .expect(200);
      expect(res.text).toContain(`,"curl;=cmd|/C calc!A0",`);
      expect(res.text).toContain(`,"'@SUM(1+1)",`);
      // Split on ';' outside quotes, as such a spreadsheet would: no field starts a formula.
      const fields = res.text.split('\r\n').flatMap((line) => line.replace(/"(?:[^"]|"")*"/g, '""').split(/[;,]/));
      expect(fields.filter((field) => /^[=+\-@]/.test(field))).toEqual([]);
    });

    it('the platform view spans tenants and filters by tenant', async () => {
      const a = await chain(1);
      const b = await chain(1);
      const onlyA = (await adminList({ tenantId: a.tenant.id, limit: 200 })).items;
      expect(onlyA.length).toBeGreaterThan(0);
      expect(onlyA.every((e) => e.tenantId === a.tenant.id)).toBe(true);
      const recent = (await adminList({ limit: 200 })).items.map((e) => e.tenantId);
      expect(recent).toEqual(expect.arrayContaining([a.tenant.id, b.tenant.id]));
      const page = await adminList({ limit: 2 });
      const next = await adminList({ limit: 2, cursor: page.nextCursor! });
      expect(Number(next.items[0].id)).toBeLessThan(Number(page.items[1].id));
      await t.http.get('/admin/audit-events').expect(401);
      await t.http.get('/admin/audit-events').set(main.owner.auth).expect(401);
    });

    it('lets owners, admins and audit:read keys in; members, viewers and other keys out', async () => {
      const readKey = await adminKey(main.tenant.id, ['audit:read']);
      const otherKey = await adminKey(main.tenant.id, ['keys:read']);
      const status = async (headers: Headers) => (await t.http.get('/v1/audit-events/verify').set(headers)).status;
      expect({
        owner: await status(main.owner.auth),
        admin: await status(main.admin.auth),
        member: await status(main.member.auth),
        viewer: await status(main.viewer.auth),
        auditKey: await status(withKey(readKey.apiKey)),
        otherKey: await status(withKey(otherKey.apiKey)),
        nobody: await status({}),
      }).toEqual({ owner: 200, admin: 200, member: 403, viewer: 403, auditKey: 200, otherKey: 403, nobody: 401 });
      expect((await t.http.get('/v1/audit-events').set(main.viewer.auth)).status).toBe(403);
    });
  });
});

describe('Audit retention', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { AUDIT_RETENTION_DAYS: '30' } });
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  it('prunes whole old days and what remains still verifies', async () => {
    const clock = t.app.get(Clock);
    const audit = t.app.get(AuditService);
    const old = new Date(Date.now() - 40 * DAY);
    jest.spyOn(clock, 'now').mockReturnValue(old);
    const tenant = await createTenant(t);
    const gone = await createTenant(t); // every event of this one is old
    await (
      await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: tenant.id }).expect(201)
    ).body;
    jest.restoreAllMocks();

    const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
    const before = (await t.http.get('/v1/audit-events').query({ limit: 200 }).set(owner.auth).expect(200)).body
      .items as EventDto[];
    expect(before.length).toBe(4); // tenant.created, key.created (old), user.created, auth.login

    expect(await audit.prune()).toBe(3);
    const after = (await t.http.get('/v1/audit-events').query({ limit: 200 }).set(owner.auth).expect(200)).body
      .items as EventDto[];
    expect(after.map((e) => e.action).sort()).toEqual(['auth.login', 'user.created']);
    expect((await t.http.get('/v1/audit-events/verify').set(owner.auth).expect(200)).body).toEqual({
      valid: true,
      checked: 2,
      anchorSeq: 2,
    });

    // New events continue the chain from the anchor, also for a tenant pruned to nothing.
    await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: tenant.id }).expect(201);
    await t.http.post('/admin/api-keys').set(adminHeaders).send({ tenantId: gone.id }).expect(201);
    expect(await audit.verify(tenant.id)).toEqual({ valid: true, checked: 3, anchorSeq: 2 });
    expect(await audit.verify(gone.id)).toEqual({ valid: true, checked: 1, anchorSeq: 1 });
    expect(await audit.prune()).toBe(0);
  });
});
