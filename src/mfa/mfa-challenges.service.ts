import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Clock } from '../common/clock';
import { randomToken, sha256 } from '../common/crypto/tokens';
import { ChallengePurpose, MfaChallenge } from './mfa-challenge.entity';

/** A challenge lives five minutes: long enough to open an authenticator app, short enough to be worthless if copied. */
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;
/** Wrong answers one challenge takes before it ends (the person's own throttle counts them too). */
export const MAX_CHALLENGE_ATTEMPTS = 5;

export interface LiveChallenge {
  id: string;
  purpose: ChallengePurpose;
  personId: string | null;
  webauthnChallenge: string | null;
  context: Record<string, unknown>;
}

/**
 * Short-lived, single-use challenges for the steps between "password right" and "signed in"
 * (and for passkey ceremonies). The holder gets a random token; only its SHA-256 is stored, so
 * a copy of the table gives nobody a way in.
 */
@Injectable()
export class MfaChallengesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  async issue(
    purpose: ChallengePurpose,
    personId: string | null,
    options: { webauthnChallenge?: string; context?: Record<string, unknown> } = {},
    manager: EntityManager = this.dataSource.manager,
  ): Promise<{ token: string; expiresAt: Date }> {
    const token = randomToken('kwc');
    const expiresAt = new Date(this.clock.now().getTime() + CHALLENGE_TTL_MS);
    await manager.getRepository(MfaChallenge).insert({
      tokenHash: sha256(token),
      purpose,
      personId,
      webauthnChallenge: options.webauthnChallenge ?? null,
      context: (options.context ?? {}) as never,
      expiresAt,
    });
    return { token, expiresAt };
  }

  /** The challenge if it is of this purpose, unused, unexpired and not worn out; otherwise null. */
  async find(purpose: ChallengePurpose, token: unknown): Promise<LiveChallenge | null> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 200) return null;
    const row = await this.dataSource.getRepository(MfaChallenge).findOneBy({ tokenHash: sha256(token), purpose });
    if (!row || row.usedAt || row.expiresAt.getTime() <= this.clock.now().getTime()) return null;
    if (row.attempts >= MAX_CHALLENGE_ATTEMPTS) return null;
    return {
      id: row.id,
      purpose: row.purpose,
      personId: row.personId,
      webauthnChallenge: row.webauthnChallenge,
      context: row.context,
    };
  }

  /** Counts a wrong answer; the challenge ends at MAX_CHALLENGE_ATTEMPTS. */
  async failed(id: string): Promise<void> {
    await this.dataSource.query('UPDATE mfa_challenges SET attempts = attempts + 1 WHERE id = $1', [id]);
  }

  /**
   * Spends the challenge inside the caller's transaction: true for exactly one caller, however
   * many present it at once, and only while it has not expired.
   */
  async consume(id: string, manager: EntityManager): Promise<boolean> {
    const now = this.clock.now();
    const rows: unknown[] = await manager.query(
      `UPDATE mfa_challenges SET used_at = $2
        WHERE id = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3 RETURNING id`,
      [id, now, MAX_CHALLENGE_ATTEMPTS],
    );
    return (Array.isArray(rows[0]) ? rows[0] : rows).length === 1;
  }

  /** Drops challenges that ended more than a day ago (called now and then; they are worthless). */
  async prune(): Promise<void> {
    await this.dataSource.query('DELETE FROM mfa_challenges WHERE expires_at < $1', [
      new Date(this.clock.now().getTime() - 86_400_000),
    ]);
  }
}
