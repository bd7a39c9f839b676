import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { Response } from 'supertest';
import { DataSource } from 'typeorm';
import { watchMail } from './helpers/mail';
import { createTestApp, TestApp } from './helpers/test-app';
import { adminHeaders, createTenant, strongPassword } from './helpers/identity';

/**
 * Runs every identity flow, keeps every response and log line, then looks for each secret
 * the flows used: passwords and hashes must appear nowhere; tokens only in the one response
 * that issued them, never in a log line.
 */
describe('secrets in logs and responses', () => {
  let t: TestApp;
  const responses: { label: string; text: string }[] = [];
  const record = (label: string, res: Response) => {
    responses.push({ label, text: `${JSON.stringify(res.headers)}\n${res.text}` });
    return res;
  };

  beforeAll(async () => {
    t = await createTestApp({ env: { LOG_LEVEL: 'debug' } });
  });
  afterAll(() => t.close());

  it('leaks no password, token or hash', async () => {
    const mailer = watchMail(t.app);
    const passwords: string[] = [];
    const issuedTokens: { label: string; token: string }[] = [];
    const tenant = await createTenant(t);

    const ownerPassword = strongPassword();
    passwords.push(ownerPassword);
    record(
      'create owner',
      await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email: 'leak-owner@example.com', role: 'owner', password: ownerPassword })
        .expect(201),
    );

    const login = record(
      'login',
      await t.http.post('/auth/login').send({ email: 'leak-owner@example.com', password: ownerPassword }).expect(200),
    );
    issuedTokens.push(
      { label: 'login', token: login.body.accessToken },
      { label: 'login', token: login.body.refreshToken },
    );
    record(
      'failed login',
      await t.http
        .post('/auth/login')
        .send({ email: 'leak-owner@example.com', password: 'wrong-' + ownerPassword })
        .expect(401),
    );
    passwords.push('wrong-' + ownerPassword);

    const refreshed = record(
      'refresh',
      await t.http.post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(200),
    );
    issuedTokens.push(
      { label: 'refresh', token: refreshed.body.accessToken },
      { label: 'refresh', token: refreshed.body.refreshToken },
    );
    const auth = { authorization: `Bearer ${refreshed.body.accessToken}` };
    record('me', await t.http.get('/auth/me').set(auth).expect(200));
    record('sessions', await t.http.get('/auth/sessions').set(auth).expect(200));

    const invited = record(
      'admin invite',
      await t.http
        .post(`/admin/tenants/${tenant.id}/users`)
        .set(adminHeaders)
        .send({ email: 'leak-invitee@example.com', role: 'member' })
        .expect(201),
    );
    const inviteToken = new URL(invited.body.inviteUrl).searchParams.get('token')!;
    issuedTokens.push({ label: 'admin invite', token: inviteToken });
    const inviteePassword = strongPassword();
    passwords.push(inviteePassword);
    record(
      'accept',
      await t.http.post('/auth/invitations/accept').send({ token: inviteToken, password: inviteePassword }).expect(204),
    );

    const newPassword = strongPassword();
    passwords.push(newPassword);
    record(
      'change password',
      await t.http.post('/auth/password').set(auth).send({ currentPassword: ownerPassword, newPassword }).expect(204),
    );
    record(
      'weak password',
      await t.http
        .post('/auth/password')
        .set(auth)
        .send({ currentPassword: newPassword, newPassword: 'password1' })
        .expect(400),
    );
    passwords.push('password1');

    record('forgot', await t.http.post('/auth/password/forgot').send({ email: 'leak-owner@example.com' }).expect(202));
    const outbox = join(t.config.dataDir, 'outbox');
    await mailer.delivered();
    const texts = await Promise.all(
      readdirSync(outbox).map(async (file) => (await simpleParser(readFileSync(join(outbox, file)))).text ?? ''),
    );
    const mail = texts.find((text) => text.includes('/reset?token='));
    const resetToken = mail && decodeURIComponent(/\/reset\?token=([A-Za-z0-9_%-]+)/.exec(mail)![1]);
    expect(resetToken).toBeDefined();
    const resetPassword = strongPassword();
    passwords.push(resetPassword);
    record(
      'reset',
      await t.http.post('/auth/password/reset').send({ token: resetToken, newPassword: resetPassword }).expect(204),
    );
    record(
      'reset again',
      await t.http.post('/auth/password/reset').send({ token: resetToken, newPassword: strongPassword() }).expect(400),
    );

    const dataSource = t.app.get(DataSource);
    const hashes: string[] = [
      ...(await dataSource.query('SELECT password_hash AS h FROM people WHERE password_hash IS NOT NULL')),
      ...(await dataSource.query('SELECT token_hash AS h FROM refresh_tokens')),
      ...(await dataSource.query('SELECT token_hash AS h FROM one_time_tokens')),
    ].map((row: { h: string }) => row.h);
    expect(hashes.length).toBeGreaterThanOrEqual(6);

    const logs = t.logs.join('\n');
    expect(t.logs.length).toBeGreaterThan(10);
    for (const secret of [...passwords, ...hashes]) {
      expect(logs).not.toContain(secret);
      for (const response of responses)
        expect({ response: response.label, leaked: response.text.includes(secret) }).toEqual({
          response: response.label,
          leaked: false,
        });
    }
    // The argon2 salt+hash part alone must not leak either.
    for (const hash of hashes.filter((h) => h.startsWith('$argon2')))
      expect(logs + responses.map((r) => r.text).join()).not.toContain(hash.split('$').pop());
    for (const { label, token } of [...issuedTokens, { label: 'mail only', token: resetToken! }]) {
      expect(logs).not.toContain(token);
      const carriers = responses.filter((response) => response.text.includes(token)).map((response) => response.label);
      expect(carriers).toEqual(label === 'mail only' ? [] : [label]);
    }
  });
});
