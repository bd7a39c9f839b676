import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In, IsNull, MoreThan } from 'typeorm';
import { Clock } from '../common/clock';
import { randomToken, sha256 } from '../common/crypto/tokens';
import { OneTimeToken, OneTimeTokenPurpose } from './one-time-token.entity';

export const RESET_TOKEN_TTL_MS = 30 * 60 * 1000;
export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const EMAIL_CHANGE_TTL_MS = 24 * 60 * 60 * 1000;

const TTL_MS: Record<OneTimeTokenPurpose, number> = {
  password_reset: RESET_TOKEN_TTL_MS,
  invitation: INVITATION_TTL_MS,
  email_change: EMAIL_CHANGE_TTL_MS,
};

/** Single-use tokens for password reset, invitations and email changes; only their SHA-256 is stored. */
@Injectable()
export class OneTimeTokensService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  async issue(
    purpose: OneTimeTokenPurpose,
    user: { id: string; tenantId: string },
    createdBy: string | null,
    manager: EntityManager = this.dataSource.manager,
    newEmail: string | null = null,
  ): Promise<string> {
    const token = randomToken();
    const ttl = TTL_MS[purpose];
    await manager.getRepository(OneTimeToken).insert({
      newEmail,
      tokenHash: sha256(token),
      purpose,
      tenantId: user.tenantId,
      userId: user.id,
      createdBy,
      expiresAt: new Date(this.clock.now().getTime() + ttl),
    });
    return token;
  }

  /** Marks the token used and returns it, or null when it is unknown, used or expired. */
  async consume(purpose: OneTimeTokenPurpose, token: string, manager: EntityManager): Promise<OneTimeToken | null> {
    const now = this.clock.now();
    const result = await manager
      .createQueryBuilder()
      .update(OneTimeToken)
      .set({ usedAt: now })
      .where({ tokenHash: sha256(token), purpose, usedAt: IsNull(), expiresAt: MoreThan(now) })
      .returning(['tokenHash', 'tenantId', 'userId', 'newEmail'])
      .execute();
    const row = result.raw[0] as
      { token_hash: string; tenant_id: string; user_id: string; new_email: string | null } | undefined;
    return row
      ? Object.assign(new OneTimeToken(), {
          tokenHash: row.token_hash,
          tenantId: row.tenant_id,
          userId: row.user_id,
          newEmail: row.new_email,
          purpose,
        })
      : null;
  }

  /**
   * Ends every unspent token of the membership (of the given purposes, or all): called in the
   * transaction of any password change, so no older link sets the password again afterwards.
   */
  async endAllFor(
    user: { id: string; tenantId: string },
    manager: EntityManager,
    purposes?: OneTimeTokenPurpose[],
  ): Promise<void> {
    await manager.getRepository(OneTimeToken).update(
      {
        tenantId: user.tenantId,
        userId: user.id,
        usedAt: IsNull(),
        ...(purposes ? { purpose: In(purposes) } : {}),
      },
      { usedAt: this.clock.now() },
    );
  }

  /** The membership a live token was issued for; nothing changes (consume() still decides). */
  async peek(purpose: OneTimeTokenPurpose, token: string): Promise<{ tenantId: string; userId: string } | null> {
    const now = this.clock.now();
    return this.dataSource.getRepository(OneTimeToken).findOne({
      where: { tokenHash: sha256(token), purpose, usedAt: IsNull(), expiresAt: MoreThan(now) },
      select: { tenantId: true, userId: true },
    });
  }

  /** Whether the token could be spent now; nothing changes (consume() still decides). */
  async isLive(purpose: OneTimeTokenPurpose, token: string): Promise<boolean> {
    const now = this.clock.now();
    return this.dataSource
      .getRepository(OneTimeToken)
      .existsBy({ tokenHash: sha256(token), purpose, usedAt: IsNull(), expiresAt: MoreThan(now) });
  }
}
