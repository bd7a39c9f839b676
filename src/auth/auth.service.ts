import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { actorOf } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { Principal, Role } from '../common/auth/principal';
import { sha256 } from '../common/crypto/tokens';
import { AppException } from '../common/http/problem';
import { isUniqueViolation } from '../common/http/errors';
import { MailService } from '../mail/mail.service';
import { Metrics } from '../metrics/metrics.service';
import type { ClientInfo } from '../common/http/client-info';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { SessionFactor, SessionsService } from '../sessions/sessions.service';
import { LoginMfaDto, PasskeySignInDto } from '../mfa/dto/mfa.dto';
import { FactorAnswer } from '../mfa/factors.service';
import { MfaRequired, MfaSignInService } from '../mfa/mfa-sign-in.service';
import { policyRequires } from '../mfa/mfa.service';
import { Tenant } from '../tenants/tenant.entity';
import { Membership, User } from '../users/user.entity';
import { Person } from '../people/person.entity';
import { MembershipSummary, PeopleService } from '../people/people.service';
import { SecurityNotices } from '../people/security-notices.service';
import {
  AcceptInvitationDto,
  ChangeEmailDto,
  ChangePasswordDto,
  ConfirmEmailDto,
  LoginDto,
  ResetPasswordDto,
  TokenPair,
} from './dto/auth.dto';
import { OperatorSessionsService } from '../operators/operator-sessions.service';
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
/** A device not used to sign in for this long is new again, and its next sign-in is mailed. */
export const KNOWN_DEVICE_MS = 90 * 24 * 60 * 60 * 1000;

/** How a sign-in came about, for its audit record and the new-device notice. */
export interface SignInContext {
  client: ClientInfo;
  /** The dashboard's device cookie, when the browser sent one. */
  device?: string;
  /** A tenant switch by a person already signed in (on this device). */
  switched?: boolean;
  /** An operator who asked for the operator console (`/login?console=1`). */
  console?: boolean;
}

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
    private readonly notices: SecurityNotices,
    private readonly mfaSignIn: MfaSignInService,
    private readonly operatorSessions: OperatorSessionsService,
  ) {}

  /** The tenant, email and role an invitation link is for (null when the link cannot be used). */
  describeInvitation(token: string): Promise<{ email: string; role: string; tenant: string } | null> {
    return token ? this.tokens.describe('invitation', token) : Promise.resolve(null);
  }

  /**
   * Email + password (+ tenant) → token pair. Unknown emails, wrong passwords and people who may
   * not sign in anywhere all cost one argon2 verification and give the same answer.
   */
  async login(dto: LoginDto, client: ClientInfo): Promise<TokenPair | MfaRequired> {
    const person = await this.verifyCredentials((dto.email ?? dto.username)!, dto.password, client);
    // Only now, with the password right, does the answer say whether a second factor follows.
    const methods = await this.mfaSignIn.methods(person.id);
    if (methods.length) {
      // An operator in no tenant has no API session to open: refused now, not after the second step.
      if (!(await this.people.memberships(person.id)).some((m) => m.usable)) throw invalidCredentials();
      return this.mfaSignIn.begin(person.id, methods, { tenantId: dto.tenantId ?? null });
    }
    return this.signInApi(person, dto.tenantId, { client });
  }

  /** The second step of an API sign-in: tokens once the factor is right (and the tenant chosen). */
  async loginMfa(dto: LoginMfaDto, client: ClientInfo): Promise<TokenPair> {
    const { challenge, tenantId: asked, ...answer } = dto;
    const { personId, tenantId } = await this.mfaSignIn.complete(
      challenge,
      answer as FactorAnswer,
      client,
      async (step, manager) => {
        const tenantId = asked ?? (step.context.tenantId as string | null) ?? undefined;
        // A tenant still to choose refuses here, before anything is spent: the same answer works again.
        await this.assertMembershipChoice(step.personId, tenantId, manager);
        return { personId: step.personId, tenantId };
      },
    );
    return this.signInApi(await this.personById(personId), tenantId, { client }, this.clock.now());
  }

  /** A passwordless sign-in starts here: a challenge for any passkey of this site. */
  passkeyOptions() {
    return this.mfaSignIn.beginPasswordless({});
  }

  /** A passkey alone, with user verification: a token pair. */
  async passkeyLogin(dto: PasskeySignInDto, client: ClientInfo): Promise<TokenPair> {
    const personId = await this.mfaSignIn.completePasswordless(
      dto.challenge,
      dto.webauthn,
      async (id, _step, manager) => {
        await this.assertMembershipChoice(id, dto.tenantId, manager);
        return id;
      },
    );
    return this.signInApi(await this.personById(personId), dto.tenantId, { client }, this.clock.now());
  }

  /** The dashboard's password step: a second-factor challenge, or null when the person has none. */
  async beginDashboardMfa(person: Person, options: { console?: boolean } = {}): Promise<MfaRequired | null> {
    const methods = await this.mfaSignIn.methods(person.id);
    // An operator's wish for the console waits in the challenge, for the step that completes it.
    const context = { via: 'dashboard', ...(options.console && person.isOperator ? { console: true } : {}) };
    return methods.length ? this.mfaSignIn.begin(person.id, methods, context) : null;
  }

  /** What the dashboard's second-step page shows for a live challenge, or null. */
  pendingDashboardMfa(token: unknown) {
    return this.mfaSignIn.pending(token);
  }

  /** The dashboard's second step; `device` is the browser's device cookie, for the new-device notice. */
  async dashboardMfa(
    token: unknown,
    answer: FactorAnswer,
    client: ClientInfo,
    device?: string,
  ): Promise<{ token: string; tenants: MembershipSummary[]; console: boolean }> {
    const { personId, console } = await this.mfaSignIn.complete(token, answer, client, async (step, manager) => {
      await this.assertMembershipChoice(step.personId, undefined, manager, true);
      return { personId: step.personId, console: step.context.console === true };
    });
    return this.signInDashboard(
      await this.personById(personId),
      undefined,
      { client, device, console },
      this.clock.now(),
    );
  }

  async dashboardPasskey(
    token: unknown,
    webauthn: unknown,
    client: ClientInfo,
    device?: string,
  ): Promise<{ token: string; tenants: MembershipSummary[]; console: boolean }> {
    const personId = await this.mfaSignIn.completePasswordless(token, webauthn, async (id, _step, manager) => {
      await this.assertMembershipChoice(id, undefined, manager, true);
      return id;
    });
    return this.signInDashboard(await this.personById(personId), undefined, { client, device }, this.clock.now());
  }

  /**
   * Refuses, as chooseMembership would, a sign-in that has no membership to open, without
   * writing anything (inside the second step's transaction). The dashboard takes any usable one.
   */
  private async assertMembershipChoice(
    personId: string,
    tenantId: string | undefined,
    manager: EntityManager,
    anyUsable = false,
  ): Promise<void> {
    const usable = (await this.people.memberships(personId, manager)).filter((m) => m.usable);
    if (anyUsable) {
      // The dashboard takes any usable membership; an operator with none goes to the console.
      if (usable.length === 0 && !(await manager.getRepository(Person).findOneBy({ id: personId }))?.isOperator)
        throw invalidCredentials();
      return;
    }
    if (usable.length === 0) throw invalidCredentials();
    if (tenantId ? usable.some((m) => m.tenantId === tenantId) : usable.length === 1) return;
    throw new AppException(
      HttpStatus.CONFLICT,
      'TENANT_REQUIRED',
      tenantId
        ? 'You cannot sign in to that tenant; choose one of yours'
        : 'You belong to several tenants; send the same answer again with the tenantId of one of them',
      { tenants: usable.map((m) => ({ id: m.tenantId, name: m.tenantName, role: m.role })) },
    );
  }

  private async personById(id: string): Promise<Person> {
    const person = await this.people.findById(id);
    if (!person) throw invalidCredentials();
    return person;
  }

  /**
   * What a new session records of the second factor: when it was checked (now, for a sign-in
   * that just passed one), or, when the tenant requires one the person does not have, that the
   * session may only add one.
   */
  private async sessionFactor(person: Person, user: User, factorVerifiedAt: Date | null): Promise<SessionFactor> {
    if (factorVerifiedAt) return { factorVerifiedAt, mfaEnrolmentRequired: false };
    const tenant = await this.dataSource.getRepository(Tenant).findOneByOrFail({ id: user.tenantId });
    const mfaEnrolmentRequired =
      policyRequires(tenant.mfaPolicy, user.role) && !(await this.mfaSignIn.methods(person.id)).length;
    return { factorVerifiedAt: null, mfaEnrolmentRequired };
  }

  /**
   * The end of every API sign-in, once every factor was checked: choose the tenant, then open
   * a session bound to it. The sign-in path is
   *   verifyCredentials (password) → [second factor] → chooseMembership → session and tokens,
   * the same for the dashboard (signInDashboard) and for a tenant switch.
   */
  async signInApi(
    person: Person,
    tenantId: string | undefined,
    context: SignInContext,
    factorVerifiedAt: Date | null = null,
  ): Promise<TokenPair> {
    const user = await this.chooseMembership(person, tenantId);
    const factor = await this.sessionFactor(person, user, factorVerifiedAt);
    const { session, refreshToken } = await this.dataSource.transaction(async (manager) => {
      const created = await this.sessions.createApiSession(user, context.client, manager, factor);
      await this.recordSignIn(manager, user, context, { sessionId: created.session.id });
      return created;
    });
    await this.noteDevice(person, user, context);
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
    context: SignInContext,
    factorVerifiedAt: Date | null = null,
  ): Promise<{ token: string; tenants: MembershipSummary[]; console: boolean }> {
    const tenants = (await this.people.memberships(person.id)).filter((m) => m.usable);
    // An operator gets the console (a session of its own kind, in no tenant) when they ask for
    // it or have no tenant to go to; their factors were checked on this same path.
    if (person.isOperator && (context.console || tenants.length === 0))
      return { ...(await this.operatorSessions.start(person.id, context.client)), tenants, console: true };
    const user = await this.chooseMembership(person, tenantId ?? tenants[0]?.tenantId);
    const factor = await this.sessionFactor(person, user, factorVerifiedAt);
    const { token } = await this.dataSource.transaction(async (manager) => {
      const created = await this.sessions.createDashboardSession(user, context.client, manager, factor);
      await this.recordSignIn(manager, user, context, { sessionId: created.session.id, via: 'dashboard' });
      return created;
    });
    await this.noteDevice(person, user, context);
    return { token, tenants, console: false };
  }

  /** The caller's tenants, for a switcher: those they may sign in to now. */
  async tenantsOf(principal: Principal): Promise<{ id: string; name: string; role: Role; current: boolean }[]> {
    const memberships = await this.people.memberships(principal.personId!);
    return memberships
      .filter((m) => m.usable)
      .map((m) => ({ id: m.tenantId, name: m.tenantName, role: m.role, current: m.tenantId === principal.tenantId }));
  }

  /**
   * Moves a signed-in person to another of their tenants: a new session there (the same path as
   * a sign-in), and the one they came from ends. A session stays bound to one tenant.
   */
  async switchTenant(principal: Principal, tenantId: string, client: ClientInfo): Promise<TokenPair>;
  async switchTenant(
    principal: Principal,
    tenantId: string,
    client: ClientInfo,
    via: 'dashboard',
  ): Promise<{ token: string; tenants: MembershipSummary[]; console: boolean }>;
  async switchTenant(principal: Principal, tenantId: string, client: ClientInfo, via: 'api' | 'dashboard' = 'api') {
    const person = await this.people.findById(principal.personId!);
    if (!person) throw invalidCredentials();
    const context = { client, switched: true };
    const signedIn =
      via === 'api'
        ? await this.signInApi(person, tenantId, context)
        : await this.signInDashboard(person, tenantId, context);
    await this.sessions.revoke(principal.tenantId!, principal.sessionId!, 'switched_tenant');
    return signedIn;
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
    const users = this.dataSource.getRepository(User);
    const user = await users.findOneByOrFail({ id: chosen.userId, tenantId: chosen.tenantId });
    user.lastLoginAt = this.clock.now();
    await users.update({ id: user.id, tenantId: user.tenantId }, { lastLoginAt: user.lastLoginAt });
    return user;
  }

  private recordSignIn(manager: EntityManager, user: User, context: SignInContext, metadata: Record<string, unknown>) {
    const self = { type: 'user', id: user.id } as const;
    return this.audit.record(manager, {
      tenantId: user.tenantId,
      actor: self,
      action: 'auth.login',
      target: self,
      client: context.client,
      metadata: context.switched ? { ...metadata, switchedTenant: true } : metadata,
    });
  }

  /**
   * Mails the person when they sign in from a device not seen for KNOWN_DEVICE_MS. A device is
   * the dashboard's long-lived device cookie when the browser has one, else the pair of user
   * agent and address (API clients keep no cookie). The very first sign-in of a person is not
   * news to them, and a tenant switch is the device that just signed in.
   */
  private async noteDevice(person: Person, user: User, context: SignInContext): Promise<void> {
    if (context.switched) return;
    const device = context.device ?? `${context.client.userAgent ?? ''}\n${context.client.ip ?? ''}`;
    const key = `device:${person.id}:${sha256(device)}`;
    const everKey = `device:${person.id}`;
    const [known, signedInBefore] = await Promise.all([
      this.throttle.touchedWithin(key, KNOWN_DEVICE_MS),
      this.throttle.touchedWithin(everKey, Number.MAX_SAFE_INTEGER),
    ]);
    await this.throttle.touch(key);
    await this.throttle.touch(everKey);
    if (known || !signedInBefore) return;
    const tenant = await this.dataSource.getRepository(Tenant).findOneByOrFail({ id: user.tenantId });
    this.notices.newDeviceSignIn(person, { tenantName: tenant.name, client: context.client, at: this.clock.now() });
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
    this.notices.passwordChanged(person, 'changed');
  }

  /**
   * Asks to move the caller's account to another address: a link to the new address confirms
   * it, and the old one is told. The answer is the same whether the new address is free or
   * already someone's (that address is told instead, and nothing changes).
   */
  async requestEmailChange(principal: Principal, dto: ChangeEmailDto, client: ClientInfo = {}): Promise<void> {
    const user = await this.dataSource
      .getRepository(User)
      .findOneOrFail({ where: { id: principal.userId!, tenantId: principal.tenantId! }, relations: { person: true } });
    const person = user.person!;
    const throttleKey = `email-change:account:${person.id}`;
    await this.throttle.assertAllowed([{ key: throttleKey, limit: this.config.loginFailuresPerAccount }]);
    if (!(await this.passwords.verify(person.passwordHash, dto.currentPassword))) {
      await this.throttle.record([throttleKey]);
      throw new AppException(HttpStatus.BAD_REQUEST, 'INVALID_CURRENT_PASSWORD', 'The current password is not correct');
    }
    // Each request mails two inboxes: as many as the sign-in failures allowed, per window.
    await this.throttle.record([throttleKey]);
    if (dto.newEmail === person.email)
      throw new AppException(HttpStatus.BAD_REQUEST, 'EMAIL_UNCHANGED', 'This is already your email address');
    const taken = await this.people.findByEmail(dto.newEmail);
    // The same statements and the same number of mails either way, so the time of the answer
    // does not tell whether the address is someone's: a link is issued for a taken address
    // too, but never sent (following it would fail on the taken address anyway).
    const token = await this.dataSource.transaction(async (manager) => {
      const issued = await this.tokens.issue('email_change', user, user.id, manager, dto.newEmail);
      await this.audit.record(manager, {
        tenantId: user.tenantId,
        actor: actorOf(principal),
        action: 'user.email_change_requested',
        target: { type: 'user', id: user.id },
        client,
      });
      return issued;
    });
    if (taken)
      this.mail.sendInBackground({
        to: dto.newEmail,
        subject: 'Your address was given for a Keyward account',
        text: `Someone asked to move a Keyward account to ${dto.newEmail}, but this address already has an account. Nothing was changed.\n`,
      });
    else
      this.mail.sendInBackground({
        to: dto.newEmail,
        subject: 'Confirm your new Keyward email address',
        text: `Confirm that ${dto.newEmail} is the new address of your Keyward account (the link works once, for 24 hours):\n${this.config.publicUrl}/email/confirm?token=${encodeURIComponent(token)}\n\nIf you did not ask for this, ignore this message.\n`,
      });
    this.notices.emailChangeRequested(person, dto.newEmail);
  }

  /** Spends the link mailed to the new address: the account moves there, and the old address is told. */
  async confirmEmailChange(dto: ConfirmEmailDto, client: ClientInfo): Promise<void> {
    const ipKey = `reset:ip:${client.ip ?? 'unknown'}`;
    await this.throttle.assertAllowed([{ key: ipKey, limit: RESET_LIMIT_PER_IP }]);
    const changed = await this.dataSource
      .transaction(async (manager) => {
        const spent = await this.tokens.consume('email_change', dto.token, manager);
        if (!spent?.newEmail) return null;
        const user = await manager
          .getRepository(User)
          .findOne({ where: { id: spent.userId, tenantId: spent.tenantId }, relations: { person: true } });
        if (!user || user.status === 'disabled') return null;
        const from = user.person!.email;
        await manager
          .getRepository(Person)
          .update({ id: user.personId }, { email: spent.newEmail, emailVerifiedAt: this.clock.now() });
        // Links mailed to the old address no longer work.
        for (const m of await this.people.memberships(user.personId, manager))
          await this.tokens.endAllFor({ id: m.userId, tenantId: m.tenantId }, manager, [
            'password_reset',
            'email_change',
          ]);
        const self = { type: 'user', id: user.id } as const;
        await this.audit.record(manager, {
          tenantId: user.tenantId,
          actor: self,
          action: 'user.email_changed',
          target: self,
          client,
          metadata: { from, to: spent.newEmail },
        });
        return { from, to: spent.newEmail };
      })
      .catch((error: unknown) => {
        // Taken since the request: the link's holder reads that inbox, so they may know.
        if (isUniqueViolation(error, 'people_email_key'))
          throw new AppException(HttpStatus.CONFLICT, 'EMAIL_TAKEN', 'This address already has a Keyward account');
        throw error;
      });
    if (!changed) return this.invalidToken(ipKey);
    this.notices.emailChanged({ email: changed.from }, changed.to);
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
      if (purpose === 'password_reset') this.notices.passwordChanged(user.person!, 'reset');
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
