import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { SYSTEM_ACTOR } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { BoundedCache } from '../common/cache/bounded-cache';
import { Clock } from '../common/clock';
import { Principal, Role } from '../common/auth/principal';
import { ROLE_SCOPES } from '../common/auth/scopes';
import { randomToken, sha256 } from '../common/crypto/tokens';
import type { ClientInfo } from '../common/http/client-info';
import { AppException } from '../common/http/problem';
import { Invalidation, InvalidationBus } from '../invalidation/invalidation.bus';
import { RefreshToken } from './refresh-token.entity';
import { Session, SessionKind } from './session.entity';

export interface SessionDto {
  id: string;
  kind: SessionKind;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

/** What a sign-in proved of the second factor: when it was checked, or that one must be added first. */
export interface SessionFactor {
  factorVerifiedAt: Date | null;
  mfaEnrolmentRequired: boolean;
}
const NO_FACTOR: SessionFactor = { factorVerifiedAt: null, mfaEnrolmentRequired: false };

/** How long a positive session check is trusted before asking the database again. */
const CACHE_TTL_MS = 5_000;
/** last_seen_at is written at most this often per session, not on every request. */
const TOUCH_INTERVAL_MS = 60_000;

interface CachedCheck {
  principal: Principal;
  /** An API session's check must not answer for a dashboard cookie, nor the other way round. */
  kind: SessionKind;
}

/**
 * Sessions and their checks. Whoever ends sessions inside a transaction of their own publishes
 * the change on the invalidation bus once it commits (`session` or `user`), so every instance
 * refuses them at once; the methods that run their own statements publish it themselves.
 */
@Injectable()
export class SessionsService {
  /** Only a shortcut (bounded, a few seconds), never the truth. */
  private readonly cache = new BoundedCache<CachedCheck>(50_000);

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly invalidations: InvalidationBus,
  ) {
    invalidations.subscribe((change) => this.invalidate(change));
  }

  /** Starts an API sign-in: a session plus its first refresh token. */
  async createApiSession(
    user: { id: string; tenantId: string },
    client: ClientInfo,
    manager: EntityManager = this.dataSource.manager,
    factor: SessionFactor = NO_FACTOR,
  ) {
    const now = this.clock.now();
    const session = await manager.getRepository(Session).save({
      tenantId: user.tenantId,
      userId: user.id,
      kind: 'api',
      tokenHash: null,
      ip: client.ip ?? null,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + this.config.refreshTokenDays * 86_400_000),
      idleTimeoutSeconds: null,
      ...factor,
    });
    const refreshToken = await this.issueRefreshToken(manager, session);
    return { session, refreshToken };
  }

  /** Starts a dashboard sign-in; the returned token goes into the cookie. */
  async createDashboardSession(
    user: { id: string; tenantId: string },
    client: ClientInfo,
    manager: EntityManager = this.dataSource.manager,
    factor: SessionFactor = NO_FACTOR,
  ) {
    const now = this.clock.now();
    const token = randomToken();
    const session = await manager.getRepository(Session).save({
      tenantId: user.tenantId,
      userId: user.id,
      kind: 'dashboard',
      tokenHash: sha256(token),
      ip: client.ip ?? null,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + this.config.sessionAbsoluteHours * 3_600_000),
      idleTimeoutSeconds: this.config.sessionIdleMinutes * 60,
      ...factor,
    });
    return { session, token };
  }

  /**
   * The principal of a live session: not revoked, not past its absolute or idle limit, its
   * user active and its tenant active. Positive answers are cached for a few seconds;
   * revocations, sign-outs and changes to the user or tenant clear them at once, everywhere.
   */
  async principalForSession(tenantId: string, sessionId: string, kind: SessionKind): Promise<Principal | null> {
    const nowMs = this.clock.now().getTime();
    const cached = this.cache.get(sessionId, nowMs);
    if (cached) return cached.kind === kind && cached.principal.tenantId === tenantId ? cached.principal : null;
    const epoch = this.cache.epoch;
    const row:
      | {
          id: string;
          tenant_id: string;
          user_id: string;
          person_id: string;
          role: Role;
          last_seen_at: Date;
          expires_at: Date;
          idle_timeout_seconds: number | null;
          mfa_enrolment_required: boolean;
        }
      | undefined = (
      await this.dataSource.query(
        `SELECT s.id, s.tenant_id, s.user_id, u.person_id, u.role, s.last_seen_at, s.expires_at, s.idle_timeout_seconds,
                s.mfa_enrolment_required
           FROM sessions s
           JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id
           JOIN tenants t ON t.id = s.tenant_id
          WHERE s.id = $1 AND s.tenant_id = $2 AND s.kind = $3 AND s.revoked_at IS NULL
            AND u.status = 'active' AND t.status = 'active'`,
        [sessionId, tenantId, kind],
      )
    )[0];
    if (!row || !this.isLive(row, nowMs)) return null;
    if (nowMs - new Date(row.last_seen_at).getTime() > TOUCH_INTERVAL_MS) {
      await this.dataSource.query('UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND tenant_id = $3', [
        new Date(nowMs),
        sessionId,
        tenantId,
      ]);
    }
    const principal: Principal = {
      kind: 'user',
      tenantId: row.tenant_id,
      userId: row.user_id,
      personId: row.person_id,
      role: row.role,
      sessionId: row.id,
      ...(row.mfa_enrolment_required ? { mfaEnrolmentRequired: true } : {}),
      scopes: ROLE_SCOPES[row.role],
    };
    this.cache.set(sessionId, { principal, kind }, nowMs + CACHE_TTL_MS, epoch);
    return principal;
  }

  /** Resolves a dashboard cookie token to its session's principal. */
  async principalForDashboardToken(token: string): Promise<Principal | null> {
    const session = await this.dataSource
      .getRepository(Session)
      .findOne({ where: { tokenHash: sha256(token), kind: 'dashboard' }, select: { id: true, tenantId: true } });
    return session ? this.principalForSession(session.tenantId, session.id, 'dashboard') : null;
  }

  /**
   * Trades a refresh token for a new one. A token that was already used means it was
   * copied: the whole session is revoked.
   */
  async rotateRefreshToken(presented: string) {
    const hash = sha256(presented);
    const outcome = await this.dataSource.transaction(async (manager) => {
      const token = await manager
        .getRepository(RefreshToken)
        .findOne({ where: { tokenHash: hash }, lock: { mode: 'pessimistic_write' } });
      if (!token) return { error: 'REFRESH_TOKEN_INVALID' as const };
      const session = await manager.getRepository(Session).findOneBy({ id: token.sessionId, tenantId: token.tenantId });
      if (!session) return { error: 'REFRESH_TOKEN_INVALID' as const };
      if (token.usedAt) {
        if (await this.revokeWith(manager, session.tenantId, { id: session.id }, 'refresh_token_reuse')) {
          await this.audit.record(manager, {
            tenantId: session.tenantId,
            actor: SYSTEM_ACTOR,
            action: 'session.revoked',
            target: { type: 'session', id: session.id },
            reason: 'REFRESH_TOKEN_REUSE',
            metadata: { userId: session.userId },
          });
        }
        return { error: 'REFRESH_TOKEN_REUSED' as const, revokedSessionId: session.id };
      }
      // A refusal (suspended tenant, disabled user, ended session) must not spend the token: if the
      // refusal is lifted, presenting it again would otherwise look like reuse and revoke the session.
      const principal = await this.principalForSessionWith(manager, session);
      if (!principal) return { error: 'REFRESH_TOKEN_INVALID' as const };
      await manager.getRepository(RefreshToken).update({ tokenHash: hash }, { usedAt: this.clock.now() });
      const refreshToken = await this.issueRefreshToken(manager, session);
      return { session, principal, refreshToken };
    });
    if ('error' in outcome) {
      if (outcome.error === 'REFRESH_TOKEN_REUSED')
        await this.invalidations.publish({ kind: 'session', sessionId: outcome.revokedSessionId! });
      throw new AppException(
        HttpStatus.UNAUTHORIZED,
        outcome.error!,
        outcome.error === 'REFRESH_TOKEN_REUSED'
          ? 'This refresh token was already used; the session has been revoked'
          : 'Invalid or expired refresh token',
      );
    }
    return outcome;
  }

  async listForUser(tenantId: string, userId: string, currentSessionId?: string): Promise<SessionDto[]> {
    const now = this.clock.now().getTime();
    const sessions = await this.dataSource
      .getRepository(Session)
      .find({ where: { tenantId, userId, revokedAt: IsNull() }, order: { createdAt: 'DESC' } });
    return sessions
      .filter((session) =>
        this.isLive(
          {
            last_seen_at: session.lastSeenAt,
            expires_at: session.expiresAt,
            idle_timeout_seconds: session.idleTimeoutSeconds,
          },
          now,
        ),
      )
      .map((s) => ({
        id: s.id,
        kind: s.kind,
        createdAt: s.createdAt,
        lastSeenAt: s.lastSeenAt,
        expiresAt: s.expiresAt,
        ip: s.ip,
        userAgent: s.userAgent,
        current: s.id === currentSessionId,
      }));
  }

  /** Revokes one session of a user; false when it is not theirs (or not in this tenant). */
  async revokeOwn(
    tenantId: string,
    userId: string,
    sessionId: string,
    reason: string,
    client: ClientInfo = {},
  ): Promise<boolean> {
    const revoked = await this.dataSource.transaction(async (manager) => {
      if (!(await this.revokeWith(manager, tenantId, { id: sessionId, userId }, reason))) return false;
      await this.audit.record(manager, {
        tenantId,
        actor: { type: 'user', id: userId },
        action: 'session.revoked',
        target: { type: 'session', id: sessionId },
        reason,
        client,
      });
      return true;
    });
    if (revoked) await this.invalidations.publish({ kind: 'session', sessionId });
    return revoked;
  }

  /** With a `manager`, inside the caller's transaction: the caller publishes `session` once it commits. */
  async revoke(tenantId: string, sessionId: string, reason: string, manager?: EntityManager): Promise<void> {
    await this.revokeWith(manager ?? this.dataSource.manager, tenantId, { id: sessionId }, reason);
    if (!manager) await this.invalidations.publish({ kind: 'session', sessionId });
  }

  /**
   * Revokes every session of a user, except possibly the one making the request. With a
   * `manager`, inside the caller's transaction: the caller publishes `user` once it commits.
   */
  async revokeAllForUser(
    tenantId: string,
    userId: string,
    reason: string,
    exceptSessionId?: string,
    manager?: EntityManager,
  ): Promise<void> {
    await (manager ?? this.dataSource.manager).query(
      `UPDATE sessions SET revoked_at = $1, revoked_reason = $2
        WHERE tenant_id = $3 AND user_id = $4 AND revoked_at IS NULL AND ($5::uuid IS NULL OR id <> $5::uuid)`,
      [this.clock.now(), reason, tenantId, userId, exceptSessionId ?? null],
    );
    if (!manager) await this.invalidations.publish({ kind: 'user', userId });
  }

  /** What a change on the bus means for cached checks: a session, a user's or a tenant's. */
  private invalidate(change: Invalidation | { kind: 'all' }): void {
    if (change.kind === 'session') this.cache.invalidate(change.sessionId);
    else if (change.kind === 'user') this.cache.invalidateWhere((check) => check.principal.userId === change.userId);
    else if (change.kind === 'tenant')
      this.cache.invalidateWhere((check) => check.principal.tenantId === change.tenantId);
    else if (change.kind === 'all') this.cache.clear();
  }

  private async revokeWith(
    manager: EntityManager,
    tenantId: string,
    where: { id: string; userId?: string },
    reason: string,
  ): Promise<number> {
    const result = await manager
      .getRepository(Session)
      .update({ tenantId, ...where, revokedAt: IsNull() }, { revokedAt: this.clock.now(), revokedReason: reason });
    return result.affected ?? 0;
  }

  private async principalForSessionWith(manager: EntityManager, session: Session): Promise<Principal | null> {
    const rows: { role: Role; person_id: string }[] = await manager.query(
      `SELECT u.role, u.person_id FROM users u JOIN tenants t ON t.id = u.tenant_id
        WHERE u.id = $1 AND u.tenant_id = $2 AND u.status = 'active' AND t.status = 'active'`,
      [session.userId, session.tenantId],
    );
    const live =
      !session.revokedAt &&
      this.isLive(
        {
          last_seen_at: session.lastSeenAt,
          expires_at: session.expiresAt,
          idle_timeout_seconds: session.idleTimeoutSeconds,
        },
        this.clock.now().getTime(),
      );
    if (!rows[0] || !live) return null;
    return {
      kind: 'user',
      tenantId: session.tenantId,
      userId: session.userId,
      personId: rows[0].person_id,
      role: rows[0].role,
      sessionId: session.id,
      ...(session.mfaEnrolmentRequired ? { mfaEnrolmentRequired: true } : {}),
      scopes: ROLE_SCOPES[rows[0].role],
    };
  }

  private async issueRefreshToken(manager: EntityManager, session: Session): Promise<string> {
    const token = randomToken('kwr');
    await manager
      .getRepository(RefreshToken)
      .insert({ tokenHash: sha256(token), sessionId: session.id, tenantId: session.tenantId });
    return token;
  }

  private isLive(
    row: { last_seen_at: Date; expires_at: Date; idle_timeout_seconds: number | null },
    nowMs: number,
  ): boolean {
    if (new Date(row.expires_at).getTime() <= nowMs) return false;
    if (
      row.idle_timeout_seconds !== null &&
      new Date(row.last_seen_at).getTime() + row.idle_timeout_seconds * 1000 <= nowMs
    )
      return false;
    return true;
  }
}
