import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { actorOf } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { Principal } from '../common/auth/principal';
import { sha256 } from '../common/crypto/tokens';
import { isUniqueViolation } from '../common/http/errors';
import { AppException } from '../common/http/problem';
import { MailService } from '../mail/mail.service';
import { Metrics } from '../metrics/metrics.service';
import type { ClientInfo } from '../common/http/client-info';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { SessionsService } from '../sessions/sessions.service';
import { Tenant } from '../tenants/tenant.entity';
import { User } from '../users/user.entity';
import { AcceptInvitationDto, ChangePasswordDto, LoginDto, ResetPasswordDto, TokenPair } from './dto/auth.dto';
import { AuthThrottleService } from './auth-throttle.service';
import { JWT_AUDIENCE, JWT_ISSUER } from './access-token';
import { OneTimeTokensService } from './one-time-tokens.service';
import { PasswordService } from './password.service';

export const FORGOT_LIMIT_PER_IP = 10;
export const FORGOT_LIMIT_PER_ACCOUNT = 3;
export const RESET_LIMIT_PER_IP = 10;
/** Failures of one account over all addresses, as a multiple of the per-address limit. */
export const ACCOUNT_CEILING_FACTOR = 5;
/** An address that signed in to an account this recently is not held by the account's ceiling. */
export const KNOWN_ADDRESS_MS = 30 * 24 * 60 * 60 * 1000;

const emailInUse = () =>
  new AppException(
    HttpStatus.CONFLICT,
    'EMAIL_IN_USE',
    'This email address already has a Keyward account. Sign in with it, or ask to be invited with another address.',
  );

const invalidCredentials = () =>
  new AppException(HttpStatus.UNAUTHORIZED, 'INVALID_CREDENTIALS', 'Invalid email or password');

@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly jwt: JwtService,
    private readonly passwords: PasswordService,
    private readonly sessions: SessionsService,
    private readonly throttle: AuthThrottleService,
    private readonly tokens: OneTimeTokensService,
    private readonly mail: MailService,
    private readonly audit: AuditService,
    private readonly metrics: Metrics,
    private readonly invalidations: InvalidationBus,
  ) {}

  /** The tenant, email and role an invitation link is for (null when the link cannot be used). */
  describeInvitation(token: string): Promise<{ email: string; role: string; tenant: string } | null> {
    return token ? this.tokens.describe('invitation', token) : Promise.resolve(null);
  }

  /**
   * Email + password → token pair. Unknown emails, wrong passwords and accounts that may not
   * sign in all cost one argon2 verification and give the same answer.
   */
  async login(dto: LoginDto, client: ClientInfo): Promise<TokenPair> {
    const email = (dto.email ?? dto.username)!;
    const user = await this.verifyCredentials(email, dto.password, client);
    const { session, refreshToken } = await this.dataSource.transaction(async (manager) => {
      const created = await this.sessions.createApiSession(user, client, manager);
      const self = { type: 'user', id: user.id } as const;
      await this.audit.record(manager, {
        tenantId: user.tenantId,
        actor: self,
        action: 'auth.login',
        target: self,
        client,
        metadata: { sessionId: created.session.id },
      });
      return created;
    });
    return this.tokenPair(user, session.id, refreshToken);
  }

  /** A dashboard sign-in for a user whose credentials were checked: the cookie token, audited. */
  startDashboardSession(user: User, client: ClientInfo): Promise<{ token: string }> {
    return this.dataSource.transaction(async (manager) => {
      const { session, token } = await this.sessions.createDashboardSession(user, client, manager);
      const self = { type: 'user', id: user.id } as const;
      await this.audit.record(manager, {
        tenantId: user.tenantId,
        actor: self,
        action: 'auth.login',
        target: self,
        client,
        metadata: { sessionId: session.id, via: 'dashboard' },
      });
      return { token };
    });
  }

  /**
   * Checks email + password with brute-force limits; shared by the API and the dashboard.
   *
   * Three failure counts per 15-minute window: the account from this address
   * (LOGIN_FAILURES_PER_ACCOUNT), this address over all accounts (LOGIN_FAILURES_PER_IP), and
   * the account over all addresses (ACCOUNT_CEILING_FACTOR × LOGIN_FAILURES_PER_ACCOUNT), which
   * slows guessing spread over many addresses. The ceiling never locks the owner out: it
   * applies only to addresses that have not signed in to this account in the last 30 days, so
   * from a known address the owner is held only by the per-address limit. Reaching a limit
   * answers 429 with Retry-After; the ceiling's count is not reset by a success.
   */
  async verifyCredentials(email: string, password: string, client: ClientInfo): Promise<User> {
    const ip = client.ip ?? 'unknown';
    const account = sha256(email);
    const keys = {
      account: `login:account-ip:${account}:${ip}`,
      ip: `login:ip:${ip}`,
      allAddresses: `login:account:${account}`,
      known: `login:known:${account}:${ip}`,
    };
    const rules = [
      { key: keys.account, limit: this.config.loginFailuresPerAccount },
      { key: keys.ip, limit: this.config.loginFailuresPerIp },
    ];
    if (!(await this.throttle.touchedWithin(keys.known, KNOWN_ADDRESS_MS))) {
      rules.push({ key: keys.allAddresses, limit: this.config.loginFailuresPerAccount * ACCOUNT_CEILING_FACTOR });
    }
    await this.throttle.assertAllowed(rules).catch((error: unknown) => {
      this.metrics.login('throttled');
      this.metrics.rateLimitRejected('login');
      throw error;
    });
    const found = await this.dataSource
      .getRepository(User)
      .createQueryBuilder('u')
      .innerJoin(Tenant, 't', 't.id = u.tenant_id')
      .addSelect('t.status', 'tenant_status')
      // Only an account with a password holds the address (invitations to it may exist in other tenants).
      .where('u.email = :email AND u.password_hash IS NOT NULL', { email })
      .getRawAndEntities();
    const user = found.entities[0];
    const canSignIn = user?.status === 'active' && found.raw[0]?.tenant_status === 'active';
    const matches = await this.passwords.verify(canSignIn ? user.passwordHash : null, password);
    if (!matches || !canSignIn) {
      this.metrics.login('failure');
      await this.throttle.record([keys.account, keys.ip, keys.allAddresses]);
      if (user)
        this.recordFailedLogin(
          user,
          found.raw[0]?.tenant_status === 'active'
            ? user.status === 'active'
              ? 'INVALID_PASSWORD'
              : 'USER_NOT_ACTIVE'
            : 'TENANT_NOT_ACTIVE',
          client,
        );
      throw invalidCredentials();
    }
    this.metrics.login('success');
    await this.throttle.clear([keys.account]);
    await this.throttle.touch(keys.known);
    const updates: Partial<User> = { lastLoginAt: this.clock.now() };
    if (this.passwords.needsRehash(user.passwordHash!)) updates.passwordHash = await this.passwords.hash(password);
    await this.dataSource.getRepository(User).update({ id: user.id, tenantId: user.tenantId }, updates);
    return Object.assign(user, updates);
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const { principal, refreshToken: next } = await this.sessions.rotateRefreshToken(refreshToken);
    return this.tokenPair(
      { id: principal.userId!, tenantId: principal.tenantId!, role: principal.role! },
      principal.sessionId!,
      next,
    );
  }

  async logout(principal: Principal, client: ClientInfo = {}): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await this.sessions.revoke(principal.tenantId!, principal.sessionId!, 'logout', manager);
      await this.audit.record(manager, {
        tenantId: principal.tenantId!,
        actor: actorOf(principal),
        action: 'auth.logout',
        target: { type: 'session', id: principal.sessionId! },
        client,
      });
    });
    await this.invalidations.publish({ kind: 'session', sessionId: principal.sessionId! });
  }

  /**
   * Only for an existing account (an unknown email has no tenant). Written in the background so
   * the answer takes the same time whether or not the account exists.
   */
  private recordFailedLogin(user: User, reason: string, client: ClientInfo): void {
    this.audit
      .record(this.dataSource.manager, {
        tenantId: user.tenantId,
        actor: { type: 'user', id: null },
        action: 'auth.login_failed',
        target: { type: 'user', id: user.id },
        outcome: 'failure',
        reason,
        client,
      })
      .catch((err) => this.logger.warn({ msg: 'could not record a failed sign-in', err }));
  }

  async me(principal: Principal) {
    const tenant = await this.dataSource.getRepository(Tenant).findOneByOrFail({ id: principal.tenantId! });
    const user = principal.userId
      ? await this.dataSource.getRepository(User).findOneBy({ id: principal.userId, tenantId: principal.tenantId! })
      : null;
    return {
      kind: principal.kind,
      user: user ? { id: user.id, email: user.email, role: user.role, status: user.status } : null,
      tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug },
      role: principal.role ?? null,
      scopes: principal.scopes,
      ...(principal.apiKeyId ? { apiKeyId: principal.apiKeyId } : {}),
    };
  }

  /** Changes the caller's password and signs out every other session of theirs. */
  async changePassword(principal: Principal, dto: ChangePasswordDto, client: ClientInfo = {}): Promise<void> {
    const user = await this.dataSource
      .getRepository(User)
      .findOneByOrFail({ id: principal.userId!, tenantId: principal.tenantId! });
    // A stolen session must not become a way to guess the password: the same limit as sign-in.
    const throttleKey = `password-change:account:${user.id}`;
    await this.throttle.assertAllowed([{ key: throttleKey, limit: this.config.loginFailuresPerAccount }]);
    if (!(await this.passwords.verify(user.passwordHash, dto.currentPassword))) {
      await this.throttle.record([throttleKey]);
      throw new AppException(HttpStatus.BAD_REQUEST, 'INVALID_CURRENT_PASSWORD', 'The current password is not correct');
    }
    await this.throttle.clear([throttleKey]);
    this.passwords.assertAcceptable(dto.newPassword, [user.email]);
    const passwordHash = await this.passwords.hash(dto.newPassword);
    await this.dataSource.transaction(async (manager) => {
      await manager
        .getRepository(User)
        .update({ id: user.id, tenantId: user.tenantId }, { passwordHash, passwordChangedAt: this.clock.now() });
      await this.tokens.endAllFor(user, manager);
      await this.sessions.revokeAllForUser(user.tenantId, user.id, 'password_changed', principal.sessionId, manager);
      await this.audit.record(manager, {
        tenantId: user.tenantId,
        actor: actorOf(principal),
        action: 'password.changed',
        target: { type: 'user', id: user.id },
        client,
      });
    });
    // After the commit: a check made before it may have cached the not yet revoked sessions.
    await this.invalidations.publish({ kind: 'user', userId: user.id });
  }

  /** Always the same answer; a link is mailed only when the account exists and may sign in. */
  async forgotPassword(email: string, client: ClientInfo): Promise<void> {
    const ip = client.ip ?? 'unknown';
    const ipKey = `forgot:ip:${ip}`;
    const accountKey = `forgot:account:${sha256(email)}`;
    await this.throttle.assertAllowed([{ key: ipKey, limit: FORGOT_LIMIT_PER_IP }]);
    await this.throttle.record([ipKey, accountKey]);
    const user = await this.dataSource
      .getRepository(User)
      .createQueryBuilder('u')
      .innerJoin(Tenant, 't', "t.id = u.tenant_id AND t.status = 'active'")
      .where("u.email = :email AND u.status = 'active' AND u.password_hash IS NOT NULL", { email })
      .getOne();
    if (!user) return;
    try {
      await this.throttle.assertAllowed([{ key: accountKey, limit: FORGOT_LIMIT_PER_ACCOUNT + 1 }]);
    } catch {
      return; // quietly stop mailing one inbox over and over
    }
    // The requester is not signed in: the actor is an anonymous user, the target the account.
    const token = await this.dataSource.transaction(async (manager) => {
      const issued = await this.tokens.issue('password_reset', user, null, manager);
      await this.audit.record(manager, {
        tenantId: user.tenantId,
        actor: { type: 'user', id: null },
        action: 'password.reset_requested',
        target: { type: 'user', id: user.id },
        client,
      });
      return issued;
    });
    this.mail.sendInBackground({
      to: user.email,
      subject: 'Reset your Keyward password',
      text: `Someone asked to reset the password of ${user.email}.\n\nIf it was you, choose a new password here (the link works once, for 30 minutes):\n${this.config.publicUrl}/reset?token=${encodeURIComponent(token)}\n\nIf it was not you, ignore this message.\n`,
    });
  }

  async resetPassword(dto: ResetPasswordDto, client: ClientInfo): Promise<void> {
    const ipKey = `reset:ip:${client.ip ?? 'unknown'}`;
    await this.throttle.assertAllowed([{ key: ipKey, limit: RESET_LIMIT_PER_IP }]);
    await this.setPasswordWithToken('password_reset', dto.token, dto.newPassword, ipKey, client);
  }

  async acceptInvitation(dto: AcceptInvitationDto, client: ClientInfo): Promise<void> {
    const ipKey = `reset:ip:${client.ip ?? 'unknown'}`;
    await this.throttle.assertAllowed([{ key: ipKey, limit: RESET_LIMIT_PER_IP }]);
    await this.setPasswordWithToken('invitation', dto.token, dto.password, ipKey, client);
  }

  /**
   * Spends a one-time token and sets the password; the token dies even if the password is
   * then refused, so check the password first (hashing happens before the transaction).
   */
  private async setPasswordWithToken(
    purpose: 'password_reset' | 'invitation',
    token: string,
    password: string,
    throttleKey: string,
    client: ClientInfo,
  ): Promise<void> {
    // A dead link costs no password check and no argon2 hash: a stranger's guesses stay cheap.
    if (!(await this.tokens.isLive(purpose, token))) return this.invalidToken(throttleKey);
    this.passwords.assertAcceptable(password);
    const passwordHash = await this.passwords.hash(password);
    const userId = await this.dataSource
      .transaction(async (manager) => {
        const spent = await this.tokens.consume(purpose, token, manager);
        if (!spent) return null;
        const users = manager.getRepository(User);
        const user = await users.findOneBy({ id: spent.userId, tenantId: spent.tenantId });
        if (!user || user.status === 'disabled' || (purpose === 'invitation' && user.status !== 'invited')) return null;
        await users.update(
          { id: user.id, tenantId: user.tenantId },
          { passwordHash, passwordChangedAt: this.clock.now(), status: 'active' },
        );
        await this.tokens.endAllFor(user, manager);
        await this.sessions.revokeAllForUser(
          user.tenantId,
          user.id,
          purpose === 'invitation' ? 'invitation_accepted' : 'password_reset',
          undefined,
          manager,
        );
        const self = { type: 'user', id: user.id } as const;
        await this.audit.record(manager, {
          tenantId: user.tenantId,
          actor: self,
          action: purpose === 'invitation' ? 'user.invitation_accepted' : 'password.reset',
          target: self,
          client,
        });
        return user.id;
      })
      .catch((error: unknown) => {
        // The address already has an account with a password (in another tenant): nothing was
        // changed and the link still works, so the person can sign in or ask for another address.
        if (isUniqueViolation(error, 'users_email_key')) throw emailInUse();
        throw error;
      });
    if (!userId) return this.invalidToken(throttleKey);
    // After the commit: a check made before it may have cached the not yet revoked sessions.
    await this.invalidations.publish({ kind: 'user', userId });
  }

  private async invalidToken(throttleKey: string): Promise<never> {
    await this.throttle.record([throttleKey]);
    throw new AppException(HttpStatus.BAD_REQUEST, 'INVALID_TOKEN', 'This link is invalid, expired or already used');
  }

  private tokenPair(
    user: { id: string; tenantId: string; role: string },
    sessionId: string,
    refreshToken: string,
  ): TokenPair {
    const accessToken = this.jwt.sign(
      // jti makes every token distinct, even two minted for one session in the same second.
      { sub: user.id, tid: user.tenantId, sid: sessionId, role: user.role, jti: randomUUID() },
      { algorithm: 'HS256', expiresIn: this.config.accessTokenTtlSeconds, issuer: JWT_ISSUER, audience: JWT_AUDIENCE },
    );
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: this.config.accessTokenTtlSeconds };
  }
}
