import { HttpStatus, Injectable, OnModuleInit } from '@nestjs/common';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as argon2 from 'argon2';
import { availableParallelism } from 'node:os';
import { AppException } from '../common/http/problem';

/** OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * ASVS 5.0 6.2.1: at least 8 characters are required, 15 or more strongly recommended. The
 * server enforces 8 (with the common-password and guessability checks below) and every form,
 * message and document says both numbers, from these constants.
 */
export const PASSWORD_MIN = 8;
export const PASSWORD_RECOMMENDED = 15;
export const PASSWORD_MAX = 128;
export const PASSWORD_HINT = `${PASSWORD_MIN} to ${PASSWORD_MAX} characters, ${PASSWORD_RECOMMENDED} or more recommended; a few unrelated words make a strong password.`;

/** How many hashes may wait for a worker before further sign-ins are told to come back. */
const QUEUE_LIMIT = 64;
/** A sign-in that cannot start within this long is refused: a busy answer beats a 10 s wait. */
export const QUEUE_WAIT_MS = 2_000;

/**
 * Hashing and checking passwords. Argon2 is deliberately expensive, so at most a few run at
 * once (one core stays free for everything else) and a burst beyond the queue limit is
 * answered 503 at once rather than slowing the whole service.
 */
@Injectable()
export class PasswordService implements OnModuleInit {
  private readonly zxcvbn = new ZxcvbnFactory({ dictionary: common.dictionary, graphs: common.adjacencyGraphs });
  private readonly concurrency = Math.max(1, availableParallelism() - 1);
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private dummyHash: string;

  async onModuleInit(): Promise<void> {
    // Unknown accounts are checked against this, so they cost the same time as real ones.
    this.dummyHash = await argon2.hash('dummy password for unknown accounts', ARGON2_OPTIONS);
  }

  hash(password: string): Promise<string> {
    return this.withSlot(() => argon2.hash(password, ARGON2_OPTIONS));
  }

  /** Verifies against the stored hash, or against a dummy hash when there is none. */
  async verify(hash: string | null | undefined, password: string): Promise<boolean> {
    const matches = await this.withSlot(() => argon2.verify(hash ?? this.dummyHash, password).catch(() => false));
    return Boolean(hash) && matches;
  }

  needsRehash(hash: string): boolean {
    return argon2.needsRehash(hash, ARGON2_OPTIONS);
  }

  /** Refuses passwords that are too short, too long, common, or easy to guess. */
  assertAcceptable(password: string, context: string[] = []): void {
    const length = [...password].length;
    if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
      throw new AppException(
        HttpStatus.BAD_REQUEST,
        'WEAK_PASSWORD',
        `Password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long`,
      );
    }
    const result = this.zxcvbn.check(password, context);
    const common = result.sequence.some(
      (match) =>
        match.pattern === 'dictionary' &&
        match.dictionaryName.startsWith('passwords') &&
        match.token.length >= password.length - 1,
    );
    if (common)
      throw new AppException(
        HttpStatus.BAD_REQUEST,
        'WEAK_PASSWORD',
        'This password is on the list of commonly used passwords; choose another',
      );
    if (result.score < 2)
      throw new AppException(
        HttpStatus.BAD_REQUEST,
        'WEAK_PASSWORD',
        'This password is too easy to guess; use a longer phrase or add unrelated words',
      );
  }

  private async withSlot<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= QUEUE_LIMIT) throw busy();
      await new Promise<void>((resolve, reject) => {
        const start = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(start), 1);
          reject(busy());
        }, QUEUE_WAIT_MS);
        this.waiting.push(start);
      });
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

function busy(): AppException {
  return new AppException(HttpStatus.SERVICE_UNAVAILABLE, 'AUTH_BUSY', 'Too many sign-ins at once; retry in a moment');
}
