import * as argon2 from 'argon2';
import { AppException } from '../common/http/problem';
import { ARGON2_OPTIONS, PasswordService, QUEUE_WAIT_MS } from './password.service';

describe('PasswordService', () => {
  const service = new PasswordService();
  beforeAll(() => service.onModuleInit());

  const refusal = (password: string, context?: string[]) => {
    try {
      service.assertAcceptable(password, context);
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(AppException);
      return (error as AppException).message;
    }
  };

  it('hashes with argon2id at m=19456 KiB, t=2, p=1', async () => {
    const hash = await service.hash('violet tractor umbrella');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await service.verify(hash, 'violet tractor umbrella')).toBe(true);
    expect(await service.verify(hash, 'violet tractor umbrellA')).toBe(false);
  });

  it('never truncates: a change in the last of 128 characters is a different password', async () => {
    const long = 'x7Q!'.repeat(31) + 'abcd';
    expect([...long]).toHaveLength(128);
    const hash = await service.hash(long);
    expect(await service.verify(hash, long)).toBe(true);
    expect(await service.verify(hash, long.slice(0, -1) + 'e')).toBe(false);
  });

  it('fails verification, after doing the work, when there is no hash', async () => {
    expect(await service.verify(null, 'anything at all here')).toBe(false);
    expect(await service.verify(undefined, 'dummy password for unknown accounts')).toBe(false);
  });

  it('refuses with AUTH_BUSY a request that waits QUEUE_WAIT_MS for a slot, and the queue keeps working', async () => {
    const busy = new PasswordService();
    await busy.onModuleInit();
    // Hold every slot until released.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slots = busy as unknown as { concurrency: number; withSlot(work: () => Promise<void>): Promise<void> };
    const holders = Array.from({ length: slots.concurrency }, () => slots.withSlot(() => held));
    jest.useFakeTimers();
    try {
      let outcome: unknown = 'still waiting';
      const waiting = busy.verify(null, 'waits too long for a slot').then(
        () => 'verified',
        (error: AppException) => error.code,
      );
      void waiting.then((result) => (outcome = result));
      await jest.advanceTimersByTimeAsync(QUEUE_WAIT_MS - 1);
      expect(outcome).toBe('still waiting');
      await jest.advanceTimersByTimeAsync(1);
      expect(await waiting).toBe('AUTH_BUSY');
    } finally {
      jest.useRealTimers();
    }
    release();
    await Promise.all(holders);
    expect(await busy.verify(null, 'runs once the slots are free')).toBe(false);
  });

  it('asks for a rehash of weaker hashes only', async () => {
    const weak = await argon2.hash('violet tractor umbrella', {
      type: argon2.argon2id,
      memoryCost: 4096,
      timeCost: 1,
      parallelism: 1,
    });
    expect(service.needsRehash(weak)).toBe(true);
    expect(service.needsRehash(await argon2.hash('violet tractor umbrella', ARGON2_OPTIONS))).toBe(false);
  });

  it.each([
    ['7 characters', 'Ab3$xQz', /8 to 128 characters/],
    ['129 characters', 'x7Q!'.repeat(32) + 'a', /8 to 128 characters/],
    ['a common password', 'password123', /commonly used passwords/],
    ['another common password', 'iloveyou', /commonly used passwords/],
    ['a keyboard walk', 'qwertyuiop', /commonly used|too easy to guess/],
    ['a repeated character', 'aaaaaaaaaaaa', /too easy to guess/],
  ])('refuses %s with a reason', (_, password, reason) => {
    expect(refusal(password)).toMatch(reason);
  });

  it('refuses a password built from the user’s own email', () => {
    expect(refusal('ada.lovelace', ['ada.lovelace@example.com', 'ada.lovelace'])).toMatch(
      /too easy to guess|commonly used/,
    );
  });

  it.each(['violet tractor umbrella', 'correct horse battery staple', 'Zx9#mP2$vL7q', 'ünïcødé pässwörd ßtrong'])(
    'accepts %s',
    (password) => {
      expect(refusal(password)).toBeUndefined();
    },
  );

  it('counts characters, not bytes, for the length limits', () => {
    expect(refusal('日本語のパスワードです')).toBeUndefined();
    expect(refusal('🔑🔑🔑🔑🔑🔑🔑')).toMatch(/8 to 128 characters/);
  });
});
