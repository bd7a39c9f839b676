import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { OneTimeTokensService } from '../src/auth/one-time-tokens.service';
import { Clock } from '../src/common/clock';
import { SessionsService } from '../src/sessions/sessions.service';
import {
  adminHeaders,
  createTenant,
  createUser,
  login,
  signIn,
  strongPassword,
  TestTenant,
  TestUser,
} from './helpers/identity';
import { createTestApp, TestApp } from './helpers/test-app';
import { watchMail } from './helpers/mail';
import { TEST_DATABASE_URL } from './helpers/test-database';

const PUBLIC_URL = 'http://kw.test';
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const unique = () => randomBytes(4).toString('hex');

interface Received {
  envelopeTo: string[];
  mail: ParsedMail;
}

/** A real SMTP server on a free port that keeps every message it is given. */
class Inbox {
  readonly received: Received[] = [];
  private readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    closeTimeout: 1_000,
    onData: (stream, session, callback) => {
      simpleParser(stream)
        .then((mail) => {
          this.received.push({ envelopeTo: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()), mail });
          callback();
        })
        .catch(callback);
    },
  });
  port = 0;

  start(): Promise<void> {
    return new Promise((resolve) => {
      const listener = this.server.listen(0, '127.0.0.1', () => {
        this.port = (listener.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  to(address: string): ParsedMail[] {
    return this.received.filter((r) => r.envelopeTo.includes(address.toLowerCase())).map((r) => r.mail);
  }

  /** The `count`-th message to `address`, once the mail sent so far has been delivered. */
  nth(address: string, count = 1): ParsedMail {
    const mails = this.to(address);
    if (mails.length < count) throw new Error(`no mail #${count} to ${address} (got ${mails.length})`);
    return mails[count - 1];
  }
}

/** The one-time token of the single `${PUBLIC_URL}/${page}?token=…` link in a message. */
function tokenIn(mail: ParsedMail, page: 'reset' | 'invite'): string {
  const links = [...(mail.text ?? '').matchAll(/https?:\/\/\S+/g)].map((match) => match[0]);
  expect(links).toEqual([
    expect.stringMatching(new RegExp(`^${PUBLIC_URL.replace(/\./g, '\\.')}/${page}\\?token=[\\w%-]+$`)),
  ]);
  const token = new URL(links[0]).searchParams.get('token')!;
  expect(token).toMatch(/^[\w-]{43}$/);
  return token;
}

function addressesOf(mail: ParsedMail): (string | undefined)[] {
  return [mail.to ?? []].flat().flatMap((to) => to.value.map((entry) => entry.address));
}

describe('mail flows over SMTP', () => {
  const inbox = new Inbox();
  let t: TestApp;
  let tenant: TestTenant;

  beforeAll(async () => {
    await inbox.start();
    t = await createTestApp({ env: { SMTP_URL: `smtp://127.0.0.1:${inbox.port}`, PUBLIC_URL } });
    tenant = await createTenant(t);
  });
  afterAll(async () => {
    await t?.close();
    await inbox.close();
  });
  let mailer: ReturnType<typeof watchMail>;
  beforeEach(() => (mailer = watchMail(t.app)));
  afterEach(() => jest.restoreAllMocks());
  /** Mail goes out in the background: the `count`-th message to `address` once it was delivered. */
  const received = async (address: string, count = 1) => (await mailer.delivered(), inbox.nth(address, count));

  /** Moves the application's clock by `offsetMs` from now on. */
  const moveClock = (offsetMs: number) =>
    jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => new Date(Date.now() + offsetMs));
  /** Back to real time (only the clock: the mail stays watched). */
  const restoreClock = () => jest.spyOn(t.app.get(Clock), 'now').mockRestore();

  const forgot = (email: string) => t.http.post('/auth/password/forgot').send({ email }).expect(202);

  async function resetToken(user: TestUser, count = 1): Promise<string> {
    await forgot(user.email);
    return tokenIn(await received(user.email, count), 'reset');
  }

  describe('forgotten password', () => {
    it('answers the same for an existing and an unknown email, and mails only the existing account', async () => {
      const user = await createUser(t, tenant.id, 'member');
      const unknown = `nobody-${unique()}@example.com`;
      const invited = `invited-${unique()}@example.com`;
      await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email: invited, role: 'member' })
        .expect(201);

      const forUnknown = await forgot(unknown);
      const forInvited = await forgot(invited);
      const forUser = await forgot(user.email.toUpperCase());
      expect(forUser.body).toEqual({ message: expect.any(String) });
      expect(forUnknown.body).toEqual(forUser.body);
      expect(forInvited.body).toEqual(forUser.body);

      const mail = await received(user.email);
      expect(addressesOf(mail)).toEqual([user.email]);
      expect(mail.from?.text).toContain('no-reply@keyward.local');
      expect(mail.subject).toMatch(/reset/i);
      expect(mail.text).toContain(`${PUBLIC_URL}/reset?token=`);
      tokenIn(mail, 'reset');

      // Everything the three requests sent has arrived: a stray message would be here by now.
      await mailer.delivered();
      expect(inbox.to(unknown)).toEqual([]);
      expect(inbox.to(invited)).toEqual([]);
      expect(inbox.to(user.email)).toHaveLength(1);
    });

    it('the mailed link sets a new password once and ends every earlier session', async () => {
      const user = await createUser(t, tenant.id, 'member');
      const [first, second] = [await signIn(t, user), await signIn(t, user)];
      for (const session of [first, second]) await t.http.get('/auth/me').set(session.auth).expect(200);

      const token = await resetToken(user);
      const newPassword = strongPassword();
      await t.http.post('/auth/password/reset').send({ token, newPassword }).expect(204);

      await login(t, user.email, newPassword);
      const old = await t.http.post('/auth/login').send({ email: user.email, password: user.password }).expect(401);
      expect(old.body).toMatchObject({ code: 'INVALID_CREDENTIALS' });
      for (const session of [first, second]) {
        await t.http.get('/auth/me').set(session.auth).expect(401);
        await t.http.post('/auth/refresh').send({ refreshToken: session.refreshToken }).expect(401);
      }

      const again = await t.http
        .post('/auth/password/reset')
        .send({ token, newPassword: strongPassword() })
        .expect(400);
      expect(again.body).toMatchObject({ code: 'INVALID_TOKEN' });
      await login(t, user.email, newPassword);

      const logs = t.logs.join('\n');
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(newPassword);
    });

    it('a session used while the reset is being saved ends with it too', async () => {
      const user = await createUser(t, tenant.id, 'member');
      const old = await signIn(t, user);
      const token = await resetToken(user);
      const sessions = t.app.get(SessionsService);
      const revokeAllForUser = sessions.revokeAllForUser.bind(sessions);
      let during: Promise<number> | undefined;
      jest.spyOn(sessions, 'revokeAllForUser').mockImplementation(async (...args) => {
        await revokeAllForUser(...args);
        // A request that arrives before the reset commits. PostgreSQL answers it from the
        // state before the reset; the embedded database (one connection) runs it after.
        during = t.http
          .get('/auth/me')
          .set(old.auth)
          .then((res) => res.status);
        if (TEST_DATABASE_URL) await during;
      });
      await t.http.post('/auth/password/reset').send({ token, newPassword: strongPassword() }).expect(204);
      expect(await during).toBe(TEST_DATABASE_URL ? 200 : 401);
      // Whatever was seen meanwhile, the old sign-in is over from the moment the reset answered.
      const after = await t.http.get('/auth/me').set(old.auth).expect(401);
      expect(after.body).toMatchObject({ code: 'SESSION_ENDED' });
    });

    it('a link is refused once it is older than 30 minutes', async () => {
      const user = await createUser(t, tenant.id, 'member');
      const expired = await resetToken(user, 1);
      moveClock(31 * MINUTE);
      const res = await t.http
        .post('/auth/password/reset')
        .send({ token: expired, newPassword: strongPassword() })
        .expect(400);
      expect(res.body).toMatchObject({ code: 'INVALID_TOKEN' });
      restoreClock();
      await login(t, user.email, user.password);

      // Just inside the 30 minutes, a link still works.
      const fresh = await resetToken(user, 2);
      moveClock(29 * MINUTE);
      const newPassword = strongPassword();
      await t.http.post('/auth/password/reset').send({ token: fresh, newPassword }).expect(204);
      restoreClock();
      await login(t, user.email, newPassword);
    });

    it('a completed reset ends every other reset link of the account', async () => {
      const user = await createUser(t, tenant.id, 'member');
      // Issued directly (as the forgot flow does), so the per-address limit of /forgot stays out of it.
      const issue = () => t.app.get(OneTimeTokensService).issue('password_reset', user, null);
      const [older, used] = [await issue(), await issue()];
      await t.http.post('/auth/password/reset').send({ token: used, newPassword: strongPassword() }).expect(204);
      const res = await t.http
        .post('/auth/password/reset')
        .send({ token: older, newPassword: strongPassword() })
        .expect(400);
      expect(res.body).toMatchObject({ code: 'INVALID_TOKEN' });
    });

    it('a password change ends every outstanding reset link of the account', async () => {
      const user = await signIn(t, await createUser(t, tenant.id, 'member'));
      const outstanding = await t.app.get(OneTimeTokensService).issue('password_reset', user, null);
      const newPassword = strongPassword();
      await t.http
        .post('/auth/password')
        .set(user.auth)
        .send({ currentPassword: user.password, newPassword })
        .expect(204);
      const res = await t.http
        .post('/auth/password/reset')
        .send({ token: outstanding, newPassword: strongPassword() })
        .expect(400);
      expect(res.body).toMatchObject({ code: 'INVALID_TOKEN' });
      await login(t, user.email, newPassword);
    });

    it('a weak new password is refused with 400 WEAK_PASSWORD and the link stays usable', async () => {
      const user = await createUser(t, tenant.id, 'member');
      const token = await resetToken(user);
      for (const weak of ['password', 'short', 'qwertyuiop']) {
        const res = await t.http.post('/auth/password/reset').send({ token, newPassword: weak }).expect(400);
        expect(res.body).toMatchObject({ code: 'WEAK_PASSWORD' });
      }
      await login(t, user.email, user.password);
      const newPassword = strongPassword();
      await t.http.post('/auth/password/reset').send({ token, newPassword }).expect(204);
      await login(t, user.email, newPassword);
    });
  });

  describe('invitations', () => {
    async function invite(role = 'member') {
      const owner = await signIn(t, await createUser(t, tenant.id, 'owner'));
      const email = `New.Colleague-${unique()}@Example.com`;
      const res = await t.http.post('/v1/users/invitations').set(owner.auth).send({ email, role }).expect(201);
      return { owner, email: email.toLowerCase(), user: res.body };
    }

    it('the invitee gets a link to choose a password, and then signs in with the invited role', async () => {
      const { owner, email, user } = await invite('member');
      expect(user).toEqual({
        id: expect.any(String),
        tenantId: tenant.id,
        email,
        role: 'member',
        status: 'invited',
        createdAt: expect.any(String),
        lastLoginAt: null,
      });

      const mail = await received(email);
      expect(addressesOf(mail)).toEqual([email]);
      expect(mail.subject).toContain(tenant.name);
      expect(mail.text).toContain(`${PUBLIC_URL}/invite?token=`);
      const token = tokenIn(mail, 'invite');

      await t.http.post('/auth/login').send({ email, password: 'whatever they might try' }).expect(401);
      const password = strongPassword();
      await t.http.post('/auth/invitations/accept').send({ token, password }).expect(204);

      const invitee = await signIn(t, { id: user.id, tenantId: tenant.id, email, role: 'member', password });
      const me = await t.http.get('/auth/me').set(invitee.auth).expect(200);
      expect(me.body).toMatchObject({
        role: 'member',
        user: { id: user.id, email, role: 'member', status: 'active' },
        tenant: { id: tenant.id },
      });
      const listed = await t.http.get('/v1/users').set(owner.auth).expect(200);
      expect(listed.body.find((u: { id: string }) => u.id === user.id)).toMatchObject({
        status: 'active',
        role: 'member',
      });

      const again = await t.http
        .post('/auth/invitations/accept')
        .send({ token, password: strongPassword() })
        .expect(400);
      expect(again.body).toMatchObject({ code: 'INVALID_TOKEN' });
      await login(t, email, password);
      expect(t.logs.join('\n')).not.toContain(token);
    });

    it('the invitation expires after 7 days', async () => {
      const { email } = await invite('viewer');
      const token = tokenIn(await received(email), 'invite');

      moveClock(7 * DAY + MINUTE);
      const res = await t.http.post('/auth/invitations/accept').send({ token, password: strongPassword() }).expect(400);
      expect(res.body).toMatchObject({ code: 'INVALID_TOKEN' });

      moveClock(7 * DAY - MINUTE);
      const password = strongPassword();
      await t.http.post('/auth/invitations/accept').send({ token, password }).expect(204);
      restoreClock();
      await login(t, email, password);
    });
  });
});

describe('mail without SMTP_URL', () => {
  let t: TestApp;
  let mailer: ReturnType<typeof watchMail>;
  beforeAll(async () => {
    t = await createTestApp({ env: { PUBLIC_URL } });
    mailer = watchMail(t.app);
  });
  afterAll(() => t?.close());

  const outbox = () => join(t.config.dataDir, 'outbox');

  /** Once the mail sent so far is written: the outbox's `count`-th message. */
  async function waitForOutbox(count: number): Promise<{ file: string; mail: ParsedMail }> {
    await mailer.delivered();
    const files = existsSync(outbox())
      ? readdirSync(outbox())
          .filter((name) => name.endsWith('.eml'))
          .sort()
      : [];
    if (files.length < count) throw new Error(`the outbox holds ${files.length} messages, not ${count}`);
    const file = join(outbox(), files[count - 1]);
    return { file, mail: await simpleParser(readFileSync(file)) };
  }

  it('writes each message as a private .eml file, and no log line carries its link', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.id, 'owner');
    await t.http.post('/auth/password/forgot').send({ email: user.email }).expect(202);

    const { file, mail } = await waitForOutbox(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(addressesOf(mail)).toEqual([user.email]);
    const resetToken = tokenIn(mail, 'reset');
    // Beside it a plain-text copy whose link can be copied as it stands (the .eml is quoted-printable).
    const plain = file.replace(/\.eml$/, '.txt');
    expect(statSync(plain).mode & 0o777).toBe(0o600);
    const plainText = readFileSync(plain, 'utf8');
    expect(plainText).toContain(`To: ${user.email}\n`);
    expect(plainText).toMatch(new RegExp(`${PUBLIC_URL}/reset\\?token=${resetToken}\\s`));

    const owner = await signIn(t, user);
    const email = `outbox-${unique()}@example.com`;
    await t.http.post('/v1/users/invitations').set(owner.auth).send({ email, role: 'member' }).expect(201);
    const invitation = await waitForOutbox(2);
    expect(addressesOf(invitation.mail)).toEqual([email]);
    const inviteToken = tokenIn(invitation.mail, 'invite');

    // The links work, and neither before nor after their use does a log line contain them.
    await t.http.post('/auth/password/reset').send({ token: resetToken, newPassword: strongPassword() }).expect(204);
    await t.http.post('/auth/invitations/accept').send({ token: inviteToken, password: strongPassword() }).expect(204);
    // The reset is followed by a notice that the password changed, which carries no link.
    const written = t.logs.filter((line) => line.includes('mail written to outbox'));
    expect(written.map((line) => JSON.parse(line).subject)).toEqual([
      'Reset your Keyward password',
      expect.stringMatching(/^You are invited to /),
      'Your Keyward password was changed',
    ]);
    const links = written.slice(0, 2);
    expect(links.map((line) => JSON.parse(line).path)).toEqual([file, invitation.file]);
    expect(links.map((line) => JSON.parse(line).text)).toEqual([plain, invitation.file.replace(/\.eml$/, '.txt')]);
    for (const line of t.logs) {
      expect(line).not.toContain(resetToken);
      expect(line).not.toContain(inviteToken);
      expect(line).not.toContain(encodeURIComponent(resetToken));
    }
  });
});
