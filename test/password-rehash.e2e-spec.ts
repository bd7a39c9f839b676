import * as argon2 from 'argon2';
import { DataSource } from 'typeorm';
import { createTestApp, TestApp } from './helpers/test-app';
import { createTenant, createUser } from './helpers/identity';

describe('password hashes with weaker parameters', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('are replaced with the current parameters on the next successful sign-in, and only then', async () => {
    const tenant = await createTenant(t);
    const user = await createUser(t, tenant.id, 'member');
    const dataSource = t.app.get(DataSource);
    const weak = await argon2.hash(user.password, {
      type: argon2.argon2id,
      memoryCost: 4096,
      timeCost: 1,
      parallelism: 1,
    });
    const personOf = 'SELECT person_id FROM users WHERE id = $2 AND tenant_id = $3';
    await dataSource.query(`UPDATE people SET password_hash = $1 WHERE id = (${personOf})`, [weak, user.id, tenant.id]);
    const storedHash = async () =>
      (
        await dataSource.query(
          'SELECT p.password_hash FROM people p JOIN users u ON u.person_id = p.id WHERE u.id = $1',
          [user.id],
        )
      )[0].password_hash as string;

    await t.http.post('/auth/login').send({ email: user.email, password: 'not the password at all' }).expect(401);
    expect(await storedHash()).toBe(weak);

    await t.http.post('/auth/login').send({ email: user.email, password: user.password }).expect(200);
    const upgraded = await storedHash();
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    await t.http.post('/auth/login').send({ email: user.email, password: user.password }).expect(200);
  });
});
