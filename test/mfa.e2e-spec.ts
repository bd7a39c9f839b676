import { DataSource } from 'typeorm';
import { Clock } from '../src/common/clock';
import { totpCode } from '../src/mfa/totp';
import { CHALLENGE_TTL_MS } from '../src/mfa/mfa-challenges.service';
import { STEP_UP_WINDOW_MS } from '../src/mfa/step-up.service';
import { createTenant, createUser, login, strongPassword, TestUser } from './helpers/identity';
import { watchMail } from './helpers/mail';
import { SoftAuthenticator } from './helpers/soft-authenticator';
import { createTestApp, TestApp } from './helpers/test-app';

const STEP_MS = 30_000;
type Json = Record<string, any>;

describe('second factors', () => {
  let t: TestApp;
  let mail: ReturnType<typeof watchMail>;
  let tenantId: string;
  /** The clock every service reads; tests move it. The middle of a time step, so ±1 step is unambiguous. */
  const midStep = () => (Math.floor(Date.now() / STEP_MS) + 1) * STEP_MS + 10_000;
  let now = midStep();

  beforeAll(async () => {
    t = await createTestApp();
    mail = watchMail(t.app);
    jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => new Date(now));
    tenantId = (await createTenant(t)).id;
  });
  beforeEach(() => {
    now = Math.max(midStep(), now + 20 * STEP_MS);
  });
  afterAll(() => t?.close());

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const codeAt = (secret: string, offsetMs = 0) => totpCode(secret, new Date(now + offsetMs));

  /** A member who signed in with only a password, then added an authenticator app. */
  async function withTotp(role: TestUser['role'] = 'member') {
    const user = await createUser(t, tenantId, role);
    const { accessToken } = await login(t, user.email, user.password);
    const started = await t.http.post('/auth/mfa/totp').set(bearer(accessToken)).expect(200);
    expect(started.body.uri).toContain(`secret=${started.body.secret}`);
    expect(started.body.qrSvg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const confirmed = await t.http
      .post('/auth/mfa/totp/confirm')
      .set(bearer(accessToken))
      .send({ code: codeAt(started.body.secret) })
      .expect(200);
    expect(confirmed.body.recoveryCodes).toHaveLength(10);
    return {
      user,
      secret: started.body.secret as string,
      recoveryCodes: confirmed.body.recoveryCodes as string[],
      accessToken,
    };
  }

  async function challengeFor(user: TestUser): Promise<Json> {
    const res = await t.http.post('/auth/login').send({ email: user.email, password: user.password }).expect(200);
    return res.body;
  }

  const completeMfa = (challenge: string, answer: Json) =>
    t.http.post('/auth/login/mfa').send({ challenge, ...answer });

  describe('authenticator app (TOTP)', () => {
    it('signs in with a password and then a code: tokens only after the second step', async () => {
      const { user, secret } = await withTotp();
      const first = await challengeFor(user);
      expect(first).toEqual({
        mfa_required: true,
        challenge: expect.stringMatching(/^kwc_/),
        expiresAt: new Date(now + CHALLENGE_TTL_MS).toISOString(),
        methods: ['totp', 'recovery_code'],
      });
      expect(first).not.toHaveProperty('accessToken');
      expect(first).not.toHaveProperty('refreshToken');
      // The challenge is no credential.
      await t.http.get('/auth/me').set(bearer(first.challenge)).expect(401);

      now += STEP_MS;
      const done = await completeMfa(first.challenge, { code: codeAt(secret) }).expect(200);
      expect(done.body).toEqual(expect.objectContaining({ tokenType: 'Bearer', accessToken: expect.any(String) }));
      const me = await t.http.get('/auth/me').set(bearer(done.body.accessToken)).expect(200);
      expect(me.body.user.email).toBe(user.email);
    });

    it('mails the person when the authenticator app is added, with no secret in it', async () => {
      const sentBefore = mail.sent().length;
      const { user, secret, recoveryCodes } = await withTotp();
      await mail.delivered();
      const notices = mail
        .sent()
        .slice(sentBefore)
        .filter((m) => m.to === user.email);
      expect(notices.map((m) => m.subject)).toEqual(['A sign-in factor was added to your Keyward account']);
      expect(notices[0].text).toContain('An authenticator app was added');
      expect(notices[0].text).not.toContain(secret);
      for (const code of recoveryCodes) expect(notices[0].text).not.toContain(code);
    });

    it('accepts codes one step either side of now, refuses them further out, and each only once', async () => {
      const { user, secret } = await withTotp(); // the current step was used to confirm
      now += 10 * STEP_MS;
      const tryCode = async (offset: number) =>
        (await completeMfa((await challengeFor(user)).challenge, { code: codeAt(secret, offset) })).status;

      expect(await tryCode(-2 * STEP_MS)).toBe(401);
      expect(await tryCode(2 * STEP_MS)).toBe(401);
      expect(await tryCode(-STEP_MS)).toBe(200);
      expect(await tryCode(-STEP_MS)).toBe(401); // the same code again
      expect(await tryCode(0)).toBe(200);
      expect(await tryCode(0)).toBe(401);
      expect(await tryCode(STEP_MS)).toBe(200);
      // A later step was used: the earlier ones never work again.
      expect(await tryCode(0)).toBe(401);
      expect(await tryCode(-STEP_MS)).toBe(401);
    });

    it('answers a wrong code with 401, and too many with 429', async () => {
      const { user, secret } = await withTotp();
      const { challenge } = await challengeFor(user);
      const wrong = String((Number(codeAt(secret)) + 1) % 1_000_000).padStart(6, '0');
      const first = await completeMfa(challenge, { code: wrong }).expect(401);
      expect(first.body.code).toBe('INVALID_FACTOR');
      const statuses: number[] = [];
      for (let i = 0; i < t.config.loginFailuresPerAccount + 1; i++) {
        const { challenge: next } = await challengeFor(user);
        statuses.push((await completeMfa(next, { code: wrong })).status);
      }
      expect(statuses.at(-1)).toBe(429);
      // Throttled means throttled: even the right code waits.
      now += STEP_MS;
      const { challenge: last } = await challengeFor(user);
      expect((await completeMfa(last, { code: codeAt(secret) })).status).toBe(429);
    });

    it('keeps the secret sealed at rest', async () => {
      const { user, secret } = await withTotp();
      const sealed: { secret_sealed: string }[] = await dataSourceQuery(
        'SELECT t.secret_sealed FROM totp_factors t JOIN people p ON p.id = t.person_id WHERE p.email = $1',
        [user.email],
      );
      expect(sealed).toHaveLength(1);
      expect(sealed[0].secret_sealed).not.toContain(secret);
      expect(Buffer.from(sealed[0].secret_sealed, 'base64').toString('latin1')).not.toContain(secret);
    });
  });

  describe('challenges', () => {
    it('expire after five minutes', async () => {
      const { user, secret } = await withTotp();
      const { challenge } = await challengeFor(user);
      now += CHALLENGE_TTL_MS + 1_000;
      const res = await completeMfa(challenge, { code: codeAt(secret) }).expect(401);
      expect(res.body.code).toBe('CHALLENGE_INVALID');
    });

    it('are single use', async () => {
      const { user, secret } = await withTotp();
      const { challenge } = await challengeFor(user);
      now += STEP_MS;
      await completeMfa(challenge, { code: codeAt(secret) }).expect(200);
      now += STEP_MS;
      const again = await completeMfa(challenge, { code: codeAt(secret) }).expect(401);
      expect(again.body.code).toBe('CHALLENGE_INVALID');
    });

    it('are refused when unknown, and bad answers are 400s, never 500s', async () => {
      await completeMfa('kwc_nothing', { code: '123456' }).expect(401);
      const { user } = await withTotp();
      const { challenge } = await challengeFor(user);
      for (const body of [
        {},
        { challenge },
        { challenge, code: 'abcdef' },
        { challenge, code: 123456 },
        { challenge, code: '123456', recoveryCode: 'abcd-efgh-jkmn' },
        { challenge, webauthn: 'not an object' },
        { challenge, webauthn: { id: 'x' } },
        { challenge, recoveryCode: 'x'.repeat(100) },
        { challenge, tenantId: 'not-a-uuid', code: '123456' },
      ]) {
        const res = await t.http.post('/auth/login/mfa').send(body);
        expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
      }
      const garbage = await completeMfa(challenge, {
        webauthn: { id: 'abc', rawId: 'abc', type: 'public-key', response: { clientDataJSON: '!!' } },
      });
      expect(garbage.status).toBe(401);
    });

    it('reveal nothing before the password is right', async () => {
      const { user } = await withTotp();
      const wrong = await t.http.post('/auth/login').send({ email: user.email, password: 'not the password' });
      const unknown = await t.http.post('/auth/login').send({ email: `nobody-${now}@example.com`, password: 'x' });
      expect([wrong.status, unknown.status]).toEqual([401, 401]);
      expect(wrong.body.code).toBe(unknown.body.code);
      expect(wrong.body.message).toBe(unknown.body.message);
      expect(wrong.body).not.toHaveProperty('mfa_required');
    });
  });

  describe('recovery codes', () => {
    it('each signs in once, and its use is audited and mailed', async () => {
      const { user, recoveryCodes } = await withTotp();
      const sentBefore = mail.sent().length;
      const code = recoveryCodes[3].toUpperCase().replace(/-/g, ' ');
      await completeMfa((await challengeFor(user)).challenge, { recoveryCode: code }).expect(200);
      const again = await completeMfa((await challengeFor(user)).challenge, { recoveryCode: recoveryCodes[3] });
      expect(again.status).toBe(401);
      await mail.delivered();
      const notices = mail
        .sent()
        .slice(sentBefore)
        .filter((m) => m.to === user.email);
      expect(notices.map((m) => m.subject)).toEqual(['A recovery code was used to sign in to Keyward']);
      expect(notices[0].text).toContain('9 unused codes left');
      const events = await t.http
        .get('/v1/audit-events')
        .query({ action: 'mfa.recovery_code_used' })
        .set(bearer((await ownerToken()).accessToken))
        .expect(200);
      expect(events.body.items ?? events.body).toEqual(
        expect.arrayContaining([expect.objectContaining({ action: 'mfa.recovery_code_used' })]),
      );
    });

    it('regenerating makes ten new ones and ends the old set', async () => {
      const { user, secret, recoveryCodes } = await withTotp();
      now += STEP_MS;
      const tokens = (await completeMfa((await challengeFor(user)).challenge, { code: codeAt(secret) }).expect(200))
        .body;
      const fresh = await t.http.post('/auth/mfa/recovery-codes').set(bearer(tokens.accessToken)).expect(200);
      expect(fresh.body.recoveryCodes).toHaveLength(10);
      expect(fresh.body.recoveryCodes).not.toContain(recoveryCodes[0]);
      await completeMfa((await challengeFor(user)).challenge, { recoveryCode: recoveryCodes[0] }).expect(401);
      await completeMfa((await challengeFor(user)).challenge, { recoveryCode: fresh.body.recoveryCodes[0] }).expect(
        200,
      );
    });
  });

  describe('password reset', () => {
    it('neither signs in nor removes a factor', async () => {
      const { user, secret } = await withTotp();
      const sentBefore = mail.sent().length;
      await t.http.post('/auth/password/forgot').send({ email: user.email }).expect(202);
      await mail.delivered();
      const link = mail
        .sent()
        .slice(sentBefore)
        .map((m) => /\/reset\?token=(\S+)/.exec(m.text)?.[1])
        .find(Boolean)!;
      const newPassword = strongPassword();
      const reset = await t.http
        .post('/auth/password/reset')
        .send({ token: decodeURIComponent(link), newPassword })
        .expect(204);
      expect(reset.body).toEqual({});
      expect(reset.headers['set-cookie']).toBeUndefined();
      const next = await t.http.post('/auth/login').send({ email: user.email, password: newPassword }).expect(200);
      expect(next.body).toMatchObject({ mfa_required: true, methods: ['totp', 'recovery_code'] });
      expect(next.body).not.toHaveProperty('accessToken');
      now += STEP_MS;
      await completeMfa(next.body.challenge, { code: codeAt(secret) }).expect(200);
    });
  });

  describe('step-up', () => {
    it('asks a person with a factor for a fresh one before changing roles or making a config:secrets key', async () => {
      const { user, secret } = await withTotp('owner');
      const target = await createUser(t, tenantId, 'viewer');
      now += STEP_MS;
      const tokens = (await completeMfa((await challengeFor(user)).challenge, { code: codeAt(secret) }).expect(200))
        .body;
      const auth = bearer(tokens.accessToken);
      // Just signed in with the factor: fresh.
      await t.http.patch(`/v1/users/${target.id}`).set(auth).send({ role: 'member' }).expect(200);

      now += STEP_UP_WINDOW_MS + 1_000;
      const refused = await t.http.patch(`/v1/users/${target.id}`).set(auth).send({ role: 'admin' }).expect(403);
      expect(refused.body).toMatchObject({ code: 'STEP_UP_REQUIRED', details: { methods: ['totp', 'recovery_code'] } });
      const key = await t.http
        .post('/v1/api-keys')
        .set(auth)
        .send({ name: 'deploy', scopes: ['config:read', 'config:secrets'] })
        .expect(403);
      expect(key.body.code).toBe('STEP_UP_REQUIRED');
      // Other work goes on without it.
      await t.http
        .post('/v1/api-keys')
        .set(auth)
        .send({ name: 'plain', scopes: ['config:read'] })
        .expect(201);

      await t.http.post('/auth/step-up').set(auth).send({ code: '000000' }).expect(401);
      const stepped = await t.http
        .post('/auth/step-up')
        .set(auth)
        .send({ code: codeAt(secret) })
        .expect(200);
      expect(stepped.body.factorVerifiedAt).toBe(new Date(now).toISOString());
      await t.http.patch(`/v1/users/${target.id}`).set(auth).send({ role: 'admin' }).expect(200);
      await t.http
        .post('/v1/api-keys')
        .set(auth)
        .send({ name: 'deploy', scopes: ['config:read', 'config:secrets'] })
        .expect(201);
    });

    it('is needed to remove a factor', async () => {
      const { accessToken, secret } = await withTotp();
      now += STEP_UP_WINDOW_MS + 1_000;
      const refused = await t.http.delete('/auth/mfa/totp').set(bearer(accessToken)).expect(403);
      expect(refused.body.code).toBe('STEP_UP_REQUIRED');
      await t.http
        .post('/auth/step-up')
        .set(bearer(accessToken))
        .send({ code: codeAt(secret) })
        .expect(200);
      await t.http.delete('/auth/mfa/totp').set(bearer(accessToken)).expect(204);
      const status = await t.http.get('/auth/mfa').set(bearer(accessToken)).expect(200);
      expect(status.body).toEqual({ totp: false, passkeys: [], recoveryCodesLeft: 0 });
    });

    it('does not block a person without any factor in a tenant without a policy', async () => {
      const { accessToken } = await ownerToken();
      const target = await createUser(t, tenantId, 'viewer');
      await t.http.patch(`/v1/users/${target.id}`).set(bearer(accessToken)).send({ role: 'member' }).expect(200);
      const stepUp = await t.http.post('/auth/step-up').set(bearer(accessToken)).send({ code: '123456' }).expect(409);
      expect(stepUp.body.code).toBe('NO_FACTOR');
    });
  });

  describe('tenant policy', () => {
    it('sends members without a factor to enrolment, and lets them do nothing else until they have one', async () => {
      const tenant = await createTenant(t);
      const owner = await createUser(t, tenant.id, 'owner');
      const member = await createUser(t, tenant.id, 'member');
      const ownerTokens = await login(t, owner.email, owner.password);
      await t.http
        .get('/v1/tenant/mfa-policy')
        .set(bearer(ownerTokens.accessToken))
        .expect(200, { policy: 'optional' });
      const memberTokens = await login(t, member.email, member.password);
      await t.http
        .put('/v1/tenant/mfa-policy')
        .set(bearer(memberTokens.accessToken))
        .send({ policy: 'everyone' })
        .expect(403);
      await t.http
        .put('/v1/tenant/mfa-policy')
        .set(bearer(ownerTokens.accessToken))
        .send({ policy: 'sometimes' })
        .expect(400);
      await t.http
        .put('/v1/tenant/mfa-policy')
        .set(bearer(ownerTokens.accessToken))
        .send({ policy: 'everyone' })
        .expect(200, { policy: 'everyone' });

      const held = await login(t, member.email, member.password);
      const refused = await t.http.get('/v1/api-keys').set(bearer(held.accessToken)).expect(403);
      expect(refused.body.code).toBe('MFA_ENROLMENT_REQUIRED');
      await t.http.get('/auth/me').set(bearer(held.accessToken)).expect(200);
      const started = await t.http.post('/auth/mfa/totp').set(bearer(held.accessToken)).expect(200);
      await t.http
        .post('/auth/mfa/totp/confirm')
        .set(bearer(held.accessToken))
        .send({ code: codeAt(started.body.secret) })
        .expect(200);
      await t.http.get('/v1/api-keys').set(bearer(held.accessToken)).expect(200);
    });
  });

  describe('reset of a member who lost every factor', () => {
    it('is an owner’s action, audited and mailed; the member then signs in with the password alone', async () => {
      const { user } = await withTotp();
      const { accessToken } = await ownerToken();
      const sentBefore = mail.sent().length;
      await t.http.delete(`/v1/users/${user.id}/factors`).set(bearer(accessToken)).expect(204);
      await t.http.delete(`/v1/users/${user.id}/factors`).set(bearer(accessToken)).expect(409);
      await mail.delivered();
      expect(
        mail
          .sent()
          .slice(sentBefore)
          .map((m) => [m.to, m.subject]),
      ).toEqual([[user.email, 'A sign-in factor was removed from your Keyward account']]);
      const signedIn = await t.http
        .post('/auth/login')
        .send({ email: user.email, password: user.password })
        .expect(200);
      expect(signedIn.body.accessToken).toEqual(expect.any(String));
      const events = await t.http
        .get('/v1/audit-events')
        .query({ action: 'mfa.factors_reset' })
        .set(bearer(accessToken))
        .expect(200);
      expect(JSON.stringify(events.body)).toContain(user.id);
    });
  });

  describe('passkeys', () => {
    it('register several, name them, sign in with one as second factor and as the only factor', async () => {
      const user = await createUser(t, tenantId, 'member');
      const { accessToken } = await login(t, user.email, user.password);
      const auth = bearer(accessToken);
      const device = new SoftAuthenticator(new URL(t.config.publicUrl).origin);
      const register = async (name: string) => {
        const options = await t.http.post('/auth/mfa/passkeys/options').set(auth).expect(200);
        expect(options.body.webauthn.authenticatorSelection).toMatchObject({ residentKey: 'required' });
        return t.http
          .post('/auth/mfa/passkeys')
          .set(auth)
          .send({ challenge: options.body.challenge, webauthn: device.register(options.body.webauthn), name })
          .expect(201);
      };
      const laptop = await register('Laptop');
      expect(laptop.body.recoveryCodes).toHaveLength(10);
      const phone = await register('Phone');
      expect(phone.body.recoveryCodes).toBeNull();
      await t.http
        .patch(`/auth/mfa/passkeys/${phone.body.passkey.id}`)
        .set(auth)
        .send({ name: 'Work phone' })
        .expect(200);
      const status = await t.http.get('/auth/mfa').set(auth).expect(200);
      expect(status.body.passkeys.map((p: Json) => p.name)).toEqual(['Laptop', 'Work phone']);

      // Second factor after the password.
      const first = await challengeFor(user);
      expect(first.methods).toEqual(['webauthn', 'recovery_code']);
      expect(first.webauthn.allowCredentials).toHaveLength(2);
      await completeMfa(first.challenge, { webauthn: device.authenticate(first.webauthn) }).expect(200);

      // The only factor: a discoverable credential with user verification.
      const options = await t.http.post('/auth/passkey/options').send({}).expect(200);
      expect(options.body.webauthn.userVerification).toBe('required');
      const signedIn = await t.http
        .post('/auth/passkey')
        .send({ challenge: options.body.challenge, webauthn: device.authenticate(options.body.webauthn) })
        .expect(200);
      const me = await t.http.get('/auth/me').set(bearer(signedIn.body.accessToken)).expect(200);
      expect(me.body.user.email).toBe(user.email);

      // Without user verification a passkey alone is not enough.
      device.userVerified = false;
      const weak = await t.http.post('/auth/passkey/options').send({}).expect(200);
      await t.http
        .post('/auth/passkey')
        .send({ challenge: weak.body.challenge, webauthn: device.authenticate(weak.body.webauthn) })
        .expect(401);
      device.userVerified = true;

      // A counter that does not grow is a cloned key (the refused answer above moved this copy ahead by one).
      device.counterStep = -1;
      const cloned = await t.http.post('/auth/passkey/options').send({}).expect(200);
      await t.http
        .post('/auth/passkey')
        .send({ challenge: cloned.body.challenge, webauthn: device.authenticate(cloned.body.webauthn) })
        .expect(401);
    });
  });

  async function ownerToken() {
    const owner = await createUser(t, tenantId, 'owner');
    return login(t, owner.email, owner.password);
  }

  function dataSourceQuery(sql: string, params: unknown[]): Promise<any[]> {
    return t.app.get(DataSource).query(sql, params);
  }
});
