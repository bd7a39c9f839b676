import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Principal } from '../common/auth/principal';
import { Clock } from '../common/clock';
import { randomToken, sha256 } from '../common/crypto/tokens';
import type { ClientInfo } from '../common/http/client-info';
import { OperatorEventsService } from './operator-events.service';
import { OperatorSession } from './operator-session.entity';

/** last_seen_at is written at most this often per session. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Operator sessions. No cache: the console is used by a few people, and taking an operator's
 * flag away (or signing them out) must hold on the very next request.
 */
@Injectable()
export class OperatorSessionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly events: OperatorEventsService,
  ) {}

  /** A console sign-in for an operator whose factors the common sign-in checked; audited. */
  start(personId: string, client: ClientInfo): Promise<{ token: string }> {
    return this.dataSource.transaction(async (manager) => {
      const { session, token } = await this.create(personId, client, manager);
      await this.events.record(manager, {
        actor: { type: 'operator', id: personId },
        action: 'operator.signed_in',
        target: { type: 'person', id: personId },
        client,
        metadata: { sessionId: session.id },
      });
      return { token };
    });
  }

  /** A new console sign-in; the returned token goes into the dashboard cookie. */
  async create(personId: string, client: ClientInfo, manager: EntityManager = this.dataSource.manager) {
    const now = this.clock.now();
    const token = randomToken();
    const session = await manager.getRepository(OperatorSession).save({
      personId,
      tokenHash: sha256(token),
      ip: client.ip ?? null,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + this.config.sessionAbsoluteHours * 3_600_000),
      idleTimeoutSeconds: this.config.sessionIdleMinutes * 60,
      revokedAt: null,
      revokedReason: null,
    });
    return { session, token };
  }

  /** The operator principal of a live console session whose person is still an operator; null otherwise. */
  async principalForToken(token: string): Promise<Principal | null> {
    const row:
      | { id: string; person_id: string; last_seen_at: Date; expires_at: Date; idle_timeout_seconds: number }
      | undefined = (
      await this.dataSource.query(
        `SELECT s.id, s.person_id, s.last_seen_at, s.expires_at, s.idle_timeout_seconds
           FROM operator_sessions s JOIN people p ON p.id = s.person_id
          WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND p.is_operator`,
        [sha256(token)],
      )
    )[0];
    const nowMs = this.clock.now().getTime();
    if (!row) return null;
    const lastSeen = new Date(row.last_seen_at).getTime();
    if (new Date(row.expires_at).getTime() <= nowMs || lastSeen + row.idle_timeout_seconds * 1000 <= nowMs) return null;
    if (nowMs - lastSeen > TOUCH_INTERVAL_MS)
      await this.dataSource.query('UPDATE operator_sessions SET last_seen_at = $1 WHERE id = $2', [
        new Date(nowMs),
        row.id,
      ]);
    return { kind: 'admin', operatorId: row.person_id, sessionId: row.id, scopes: [] };
  }

  async revoke(sessionId: string, reason: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.query(
      'UPDATE operator_sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL',
      [this.clock.now(), reason, sessionId],
    );
  }

  /** Ends the console session a cookie token names, if it is one (a new sign-in replaces it). */
  async revokeToken(token: string, reason: string): Promise<void> {
    await this.dataSource.query(
      'UPDATE operator_sessions SET revoked_at = $1, revoked_reason = $2 WHERE token_hash = $3 AND revoked_at IS NULL',
      [this.clock.now(), reason, sha256(token)],
    );
  }
}
