import { PasswordService } from '../src/auth/password.service';
import { createTestApp, TestApp } from './helpers/test-app';

/**
 * A reset or invitation link that cannot be spent is refused before the password is checked or
 * hashed. Found by fuzzing: every guessed token cost an argon2 hash, and a burst of them from
 * many addresses pushed answers past 1 s.
 */
describe('dead reset and invitation links', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());
  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['/auth/password/reset', 'newPassword'],
    ['/auth/invitations/accept', 'password'],
  ])('%s answers INVALID_TOKEN without hashing, even for a weak password', async (path, field) => {
    const hash = jest.spyOn(t.app.get(PasswordService), 'hash');
    for (const password of ['violet tractor dead link umbrella', 'weak']) {
      const res = await t.http
        .post(path)
        .send({ token: 'x'.repeat(43), [field]: password })
        .expect(400);
      expect(res.body.code).toBe('INVALID_TOKEN');
    }
    expect(hash).not.toHaveBeenCalled();
  });
});
