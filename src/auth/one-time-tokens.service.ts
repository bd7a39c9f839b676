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

  /** Who a live token is for (the invite page names them); null for any token that could not be spent. */
  async describe(
    purpose: OneTimeTokenPurpose,
    token: string,
  ): Promise<{ email: string; role: string; tenant: string } | null> {
    const [row]: { email: string; role: string; tenant: string }[] = await this.dataSource.query(
      `SELECT p.email, u.role, t.name AS tenant
         FROM one_time_tokens o JOIN users u ON u.id = o.user_id AND u.tenant_id = o.tenant_id
         JOIN people p ON p.id = u.person_id
         JOIN tenants t ON t.id = o.tenant_id
        WHERE o.token_hash = $1 AND o.purpose = $2 AND o.used_at IS NULL AND o.expires_at > $3`,
      [sha256(token), purpose, this.clock.now()],
    );
    return row ?? null;
  }

  /** Whether the token could be spent now; nothing changes (consume() still decides). */
  async isLive(purpose: OneTimeTokenPurpose, token: string): Promise<boolean> {
    const now = this.clock.now();
    return this.dataSource
      .getRepository(OneTimeToken)
      .existsBy({ tokenHash: sha256(token), purpose, usedAt: IsNull(), expiresAt: MoreThan(now) });
  }
}
