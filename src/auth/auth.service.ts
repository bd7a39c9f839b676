import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { actorOf } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { Principal } from '../common/auth/principal';
import { sha256 } from '../common/crypto/tokens';
import { AppException } from '../common/http/problem';
import { MailService } from '../mail/mail.service';
import { Metrics } from '../metrics/metrics.service';
import type { ClientInfo } from '../common/http/client-info';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { SessionsService } from '../sessions/sessions.service';
import { Tenant } from '../tenants/tenant.entity';
import { Membership, User } from '../users/user.entity';
import { Person } from '../people/person.entity';
import { MembershipSummary, PeopleService } from '../people/people.service';
import { OperatorSessionsService } from '../operators/operator-sessions.service';
import { AcceptInvitationDto, ChangePasswordDto, LoginDto, ResetPasswordDto, TokenPair } from './dto/auth.dto';
import { AuthThrottleService } from './auth-throttle.service';
import { JWT_AUDIENCE, JWT_ISSUER } from './access-token';
import { OneTimeTokenPurpose } from './one-time-token.entity';
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
    'This email address already has a Keyward account: accept the invitation with that account’s password (no new password is needed).',
  );

/** Whether a membership may still spend a link issued for it. */
const mayUseLink = (purpose: OneTimeTokenPurpose, user: User) =>
  user.status !== 'disabled' && (purpose !== 'invitation' || user.status === 'invited');

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
    private readonly people: PeopleService,
    private readonly operatorSessions: OperatorSessionsService,
  ) {}

  /**
   * Email + password (+ tenant) → token pair. Unknown emails, wrong passwords and people who may
   * not sign in anywhere all cost one argon2 verification and give the same answer.
   */
  async login(dto: LoginDto, client: ClientInfo): Promise<TokenPair> {
    const person = await this.verifyCredentials((dto.email ?? dto.username)!, dto.password, client);
    return this.signInApi(person, dto.tenantId, client);
  }

  /**
   * The end of every API sign-in, once every factor was checked: choose the tenant, then open
   * a session bound to it. The sign-in path is
   *   verifyCredentials (password) → [second factor] → chooseMembership → session and tokens,
   * the same for the dashboard (signInDashboard) and for a tenant switch.
   */
  async signInApi(person: Person, tenantId: string | undefined, client: ClientInfo): Promise<TokenPair> {
    const user = await this.chooseMembership(person, tenantId);
    const { session, refreshToken } = await this.dataSource.transaction(async (manager) => {
      const created = await this.sessions.createApiSession(user, client, manager);
      await this.recordSignIn(manager, user, client, { sessionId: created.session.id });
      return created;
    });
    return this.tokenPair(user, session.id, refreshToken);
  }

  /**
   * A dashboard sign-in for a person whose factors were checked: the cookie token of a session
   * in the chosen tenant or, without a choice, in the tenant they used last (the dashboard then
   * offers the others).
   */
  async signInDashboard(
    person: Person,
    tenantId: string | undefined,
    client: ClientInfo,
    options: { console?: boolean } = {},
  ): Promise<{ token: string; tenants: MembershipSummary[]; console: boolean }> {
    const tenants = (await this.people.memberships(person.id)).filter((m) => m.usable);
    // An operator gets the console (a session of its own kind, in no tenant) when they ask for
    // it or have no tenant to go to; their factors were checked on this same path.
    if (person.isOperator && (options.console || tenants.length === 0))
      return { ...(await this.operatorSessions.start(person.id, client)), tenants, console: true };
    const user = await this.chooseMembership(person, tenantId ?? tenants[0]?.tenantId);
    return this.dataSource.transaction(async (manager) => {
      const { session, token } = await this.sessions.createDashboardSession(user, client, manager);
      await this.recordSignIn(manager, user, client, { sessionId: session.id, via: 'dashboard' });
      return { token, tenants, console: false };
    });
  }

  /**
   * The membership a sign-in opens: the one named, or the only one. A person with several who
   * named none (or one they cannot use) is told which they may choose, with 409 TENANT_REQUIRED;
   * only after their credentials passed, so the list reveals nothing to a stranger.
   */
  async chooseMembership(person: Person, tenantId: string | undefined): Promise<User> {
    const usable = (await this.people.memberships(person.id)).filter((m) => m.usable);
    const chosen = tenantId ? usable.find((m) => m.tenantId === tenantId) : usable.length === 1 ? usable[0] : undefined;
    if (!chosen) {
      if (usable.length === 0) throw invalidCredentials();
      throw new AppException(
        HttpStatus.CONFLICT,
        'TENANT_REQUIRED',
        tenantId
          ? 'You cannot sign in to that tenant; choose one of yours'
          : 'You belong to several tenants; sign in again with the tenantId of one of them',
        { tenants: usable.map((m) => ({ id: m.tenantId, name: m.tenantName, role: m.role })) },
      );
    }
    const user = await this.dataSource
      .getRepository(User)
      .findOneByOrFail({ id: chosen.userId, tenantId: chosen.tenantId });
    user.lastLoginAt = this.clock.now();
    await this.dataSource
      .getRepository(User)
      .update({ id: user.id, tenantId: user.tenantId }, { lastLoginAt: user.lastLoginAt });
    return user;
  }

  private recordSignIn(manager: EntityManager, user: User, client: ClientInfo, metadata: Record<string, unknown>) {
    const self = { type: 'user', id: user.id } as const;
    return this.audit.record(manager, {
      tenantId: user.tenantId,
      actor: self,
      action: 'auth.login',
      target: self,
      client,
      metadata,
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
   *
   * A person passes when the password matches and they may sign in to at least one tenant.
   */
  async verifyCredentials(email: string, password: string, client: ClientInfo): Promise<Person> {
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
    const person = await this.people.findByEmail(email);
    const memberships = person ? await this.people.memberships(person.id) : [];
    // An operator may have no tenant at all: they sign in to the console (signInDashboard).
    const canSignIn = !!person?.passwordHash && (person.isOperator || memberships.some((m) => m.usable));
    const matches = await this.passwords.verify(canSignIn ? person.passwordHash : null, password);
    if (!matches || !canSignIn) {
      this.metrics.login('failure');
      await this.throttle.record([keys.account, keys.ip, keys.allAddresses]);
      if (person?.passwordHash) this.recordFailedLogin(memberships, canSignIn, client);
      throw invalidCredentials();
    }
    this.metrics.login('success');
    await this.throttle.clear([keys.account]);
    await this.throttle.touch(keys.known);
    if (this.passwords.needsRehash(person.passwordHash!)) {
      person.passwordHash = await this.passwords.hash(password);
      await this.dataSource.getRepository(Person).update({ id: person.id }, { passwordHash: person.passwordHash });
    }
    return person;
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
   * Only for an existing account (an unknown email has no tenant): in each of the person's
   * tenants, for its owners to see. Written in the background so the answer takes the same
   * time whether or not the account exists.
   */
  private recordFailedLogin(memberships: MembershipSummary[], passwordChecked: boolean, client: ClientInfo): void {
    for (const membership of memberships) {
      // When no tenant could be signed in to, the password was not even checked.
      const reason = passwordChecked
        ? 'INVALID_PASSWORD'
        : membership.status !== 'active'
          ? 'USER_NOT_ACTIVE'
          : 'TENANT_NOT_ACTIVE';
      this.audit
        .record(this.dataSource.manager, {
          tenantId: membership.tenantId,
          actor: { type: 'user', id: null },
          action: 'auth.login_failed',
          target: { type: 'user', id: membership.userId },
          outcome: 'failure',
          reason,
          client,
        })
        .catch((err) => this.logger.warn({ msg: 'could not record a failed sign-in', err }));
    }
  }

  async me(principal: Principal) {
    const tenant = await this.dataSource.getRepository(Tenant).findOneByOrFail({ id: principal.tenantId! });
    const user = principal.userId
      ? await this.dataSource
          .getRepository(User)
          .findOne({ where: { id: principal.userId, tenantId: principal.tenantId! }, relations: { person: true } })
      : null;
    return {
      kind: principal.kind,
      user: user ? { id: user.id, email: user.person!.email, role: user.role, status: user.status } : null,
      tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug },
      role: principal.role ?? null,
      scopes: principal.scopes,
      ...(principal.apiKeyId ? { apiKeyId: principal.apiKeyId } : {}),
    };
  }

  /** Changes the caller's password and signs out every other session of theirs, in every tenant. */
  async changePassword(principal: Principal, dto: ChangePasswordDto, client: ClientInfo = {}): Promise<void> {
    const user = await this.dataSource
      .getRepository(User)
      .findOneOrFail({ where: { id: principal.userId!, tenantId: principal.tenantId! }, relations: { person: true } });
    const person = user.person!;
    // A stolen session must not become a way to guess the password: the same limit as sign-in.
    const throttleKey = `password-change:account:${person.id}`;
    await this.throttle.assertAllowed([{ key: throttleKey, limit: this.config.loginFailuresPerAccount }]);
    if (!(await this.passwords.verify(person.passwordHash, dto.currentPassword))) {
      await this.throttle.record([throttleKey]);
      throw new AppException(HttpStatus.BAD_REQUEST, 'INVALID_CURRENT_PASSWORD', 'The current password is not correct');
    }
    await this.throttle.clear([throttleKey]);
    this.passwords.assertAcceptable(dto.newPassword, [person.email]);
    const passwordHash = await this.passwords.hash(dto.newPassword);
    const ended = await this.dataSource.transaction(async (manager) => {
      await manager
        .getRepository(Person)
        .update({ id: person.id }, { passwordHash, passwordChangedAt: this.clock.now() });
      const ended = await this.endSignInsOf(manager, person.id, 'password_changed', principal.sessionId);
      await this.audit.record(manager, {
        tenantId: user.tenantId,
        actor: actorOf(principal),
        action: 'password.changed',
        target: { type: 'user', id: user.id },
        client,
      });
      return ended;
    });
    await this.publishUsers(ended);
  }

  /** Always the same answer; a link is mailed only when the account exists and may sign in. */
  async forgotPassword(email: string, client: ClientInfo): Promise<void> {
    const ip = client.ip ?? 'unknown';
    const ipKey = `forgot:ip:${ip}`;
    const accountKey = `forgot:account:${sha256(email)}`;
    await this.throttle.assertAllowed([{ key: ipKey, limit: FORGOT_LIMIT_PER_IP }]);
    await this.throttle.record([ipKey, accountKey]);
    const person = await this.people.findByEmail(email);
    // The link is issued through one membership the person can sign in to (tokens belong to one).
    const membership = person?.passwordHash ? (await this.people.memberships(person.id)).find((m) => m.usable) : null;
    if (!person || !membership) return;
    try {
      await this.throttle.assertAllowed([{ key: accountKey, limit: FORGOT_LIMIT_PER_ACCOUNT + 1 }]);
    } catch {
      return; // quietly stop mailing one inbox over and over
    }
    // The requester is not signed in: the actor is an anonymous user, the target the account.
    const token = await this.dataSource.transaction(async (manager) => {
      const link = { id: membership.userId, tenantId: membership.tenantId };
      const issued = await this.tokens.issue('password_reset', link, null, manager);
      await this.audit.record(manager, {
        tenantId: membership.tenantId,
        actor: { type: 'user', id: null },
        action: 'password.reset_requested',
        target: { type: 'user', id: membership.userId },
        client,
      });
      return issued;
    });
    this.mail.sendInBackground({
      to: person.email,
      subject: 'Reset your Keyward password',
      text: `Someone asked to reset the password of ${person.email}.\n\nIf it was you, choose a new password here (the link works once, for 30 minutes):\n${this.config.publicUrl}/reset?token=${encodeURIComponent(token)}\n\nIf it was not you, ignore this message.\n`,
    });
  }

  async resetPassword(dto: ResetPasswordDto, client: ClientInfo): Promise<void> {
    const ipKey = `reset:ip:${client.ip ?? 'unknown'}`;
    await this.throttle.assertAllowed([{ key: ipKey, limit: RESET_LIMIT_PER_IP }]);
    await this.setPasswordWithToken('password_reset', dto.token, dto.newPassword, ipKey, client);
  }

  /**
   * A person new to Keyward chooses their password; one who has an account already proves it
   * with their password (nothing about it changes) and gains the membership.
   */
  async acceptInvitation(dto: AcceptInvitationDto, client: ClientInfo): Promise<void> {
    const ipKey = `reset:ip:${client.ip ?? 'unknown'}`;
    await this.throttle.assertAllowed([{ key: ipKey, limit: RESET_LIMIT_PER_IP }]);
    const invited = await this.linkedMembership('invitation', dto.token);
    if (invited?.person.passwordHash) return this.joinWithPassword(invited, dto, ipKey, client);
    await this.setPasswordWithToken('invitation', dto.token, dto.password, ipKey, client);
  }

  /** The membership a live link was issued for, if it may still use it. */
  async linkedMembership(purpose: OneTimeTokenPurpose, token: string): Promise<Membership | null> {
    const link = await this.tokens.peek(purpose, token);
    if (!link) return null;
    const user = await this.dataSource
      .getRepository(User)
      .findOne({ where: { id: link.userId, tenantId: link.tenantId }, relations: { person: true } });
    return user && mayUseLink(purpose, user) ? (user as Membership) : null;
  }

  private async joinWithPassword(
    invited: Membership,
    dto: AcceptInvitationDto,
    ipKey: string,
    client: ClientInfo,
  ): Promise<void> {
    const accountKey = `invitation:account:${invited.personId}`;
    await this.throttle.assertAllowed([{ key: accountKey, limit: this.config.loginFailuresPerAccount }]);
    if (!(await this.passwords.verify(invited.person.passwordHash, dto.password))) {
      await this.throttle.record([ipKey, accountKey]);
      throw emailInUse();
    }
    const joined = await this.dataSource.transaction(async (manager) => {
      const spent = await this.tokens.consume('invitation', dto.token, manager);
      if (!spent) return false;
      const updated = await manager
        .getRepository(User)
        .update({ id: spent.userId, tenantId: spent.tenantId, status: 'invited' }, { status: 'active' });
      if (!updated.affected) return false;
      await manager
        .getRepository(Person)
        .update({ id: invited.personId, emailVerifiedAt: IsNull() }, { emailVerifiedAt: this.clock.now() });
      await this.tokens.endAllFor(invited, manager);
      const self = { type: 'user', id: invited.id } as const;
      await this.audit.record(manager, {
        tenantId: invited.tenantId,
        actor: self,
        action: 'user.invitation_accepted',
        target: self,
        client,
        metadata: { existingAccount: true },
      });
      return true;
    });
    if (!joined) return this.invalidToken(ipKey);
    await this.invalidations.publish({ kind: 'user', userId: invited.id });
  }

  /**
   * Spends a one-time token and sets the person's password; the token dies even if the password
   * is then refused, so check the password first (hashing happens before the transaction).
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
    const ended = await this.dataSource.transaction(async (manager) => {
      const spent = await this.tokens.consume(purpose, token, manager);
      if (!spent) return null;
      const user = await manager
        .getRepository(User)
        .findOne({ where: { id: spent.userId, tenantId: spent.tenantId }, relations: { person: true } });
      if (!user || !mayUseLink(purpose, user)) return null;
      const now = this.clock.now();
      // An invitation sets a password only where there is none: if the person chose one meanwhile
      // (another tenant's invitation), nothing changes and the link still works.
      const set = await manager
        .getRepository(Person)
        .update(purpose === 'invitation' ? { id: user.personId, passwordHash: IsNull() } : { id: user.personId }, {
          passwordHash,
          passwordChangedAt: now,
          emailVerifiedAt: user.person!.emailVerifiedAt ?? now,
        });
      if (!set.affected) throw emailInUse();
      if (purpose === 'invitation')
        await manager.getRepository(User).update({ id: user.id, tenantId: user.tenantId }, { status: 'active' });
      const ended =
        purpose === 'invitation'
          ? (await this.tokens.endAllFor(user, manager), [user.id])
          : await this.endSignInsOf(manager, user.personId, 'password_reset');
      const self = { type: 'user', id: user.id } as const;
      await this.audit.record(manager, {
        tenantId: user.tenantId,
        actor: self,
        action: purpose === 'invitation' ? 'user.invitation_accepted' : 'password.reset',
        target: self,
        client,
      });
      return ended;
    });
    if (!ended) return this.invalidToken(throttleKey);
    // After the commit: a check made before it may have cached the not yet revoked sessions.
    await this.publishUsers(ended);
  }

  /**
   * The password changed: every reset link of the person dies and their sessions end, in every
   * tenant (but the one making the change, if any). Returns the memberships to publish once the
   * transaction has committed.
   */
  private async endSignInsOf(
    manager: EntityManager,
    personId: string,
    reason: string,
    exceptSessionId?: string,
  ): Promise<string[]> {
    const memberships = await this.people.memberships(personId, manager);
    for (const membership of memberships) {
      const user = { id: membership.userId, tenantId: membership.tenantId };
      await this.tokens.endAllFor(user, manager, ['password_reset']);
      await this.sessions.revokeAllForUser(user.tenantId, user.id, reason, exceptSessionId, manager);
    }
    return memberships.map((m) => m.userId);
  }

  private async publishUsers(userIds: string[]): Promise<void> {
    for (const userId of userIds) await this.invalidations.publish({ kind: 'user', userId });
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
