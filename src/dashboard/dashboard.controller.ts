import { Body, Controller, Get, HttpStatus, Param, ParseUUIDPipe, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { ListApiKeysQuery } from '../api-keys/dto/api-keys.dto';
import { seesAllKeys } from '../api-keys/key-policy';
import { ListAuditEventsQuery } from '../audit/dto/audit.dto';
import { AuditService } from '../audit/audit.service';
import { AuthService } from '../auth/auth.service';
import { AppConfig } from '../config/app-config';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Clock } from '../common/clock';
import { notFound } from '../common/http/errors';
import { SessionsService } from '../sessions/sessions.service';
import { UsageService } from '../usage/usage.service';
import { UsersService } from '../users/users.service';
import { eventRows, keyNames, lastBuckets, usageView } from './activity';
import { ChangeEmailDto, SwitchTenantDto } from '../auth/dto/auth.dto';
import { Client, ClientInfo } from '../common/http/client-info';
import { checkForm, PageRenderer, text, userError } from './pages';
import { clearCsrfSecret, cookieNames, sessionCookieOptions } from './web';

/** Every signed-in user, whatever the role. */
export const SignedIn = () => Authenticated({ via: ['session'] });

/** Overview, the user's sessions and account. */
@ApiExcludeController()
@Controller('dashboard')
export class DashboardController {
  constructor(
    private readonly auth: AuthService,
    private readonly keys: ApiKeysService,
    private readonly sessions: SessionsService,
    private readonly pages: PageRenderer,
    private readonly config: AppConfig,
    private readonly usage: UsageService,
    private readonly audit: AuditService,
    private readonly users: UsersService,
    private readonly clock: Clock,
  ) {}

  @Get()
  @SignedIn()
  async overview(@CurrentPrincipal() principal: Principal, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const me = await this.auth.me(principal);
    const active = await this.keys.list(
      principal,
      Object.assign(new ListApiKeysQuery(), { status: 'active', page: 1, limit: 1 }),
    );
    const seesAll = seesAllKeys(principal);
    const week = await this.usage.forTenant(principal, lastBuckets(this.clock.now(), 'day', 7));
    const usage = usageView(
      week,
      seesAll ? 'Requests with the tenant’s keys, last 7 days' : 'Requests with your keys, last 7 days',
    );
    // The audit trail is for owners and admins, as on the API.
    let events = null;
    if (seesAll) {
      const recent = await this.audit.listForTenant(
        principal.tenantId!,
        Object.assign(new ListAuditEventsQuery(), { limit: 10 }),
      );
      events = eventRows(
        recent.items,
        new Map((await this.users.list(principal.tenantId!)).map((user) => [user.id, user.email])),
        await keyNames(this.keys, principal, recent.items),
      );
    }
    // A tenant (or, for a member, a person) with no key at all yet is shown where to start.
    const anyKey =
      active.total > 0 ||
      (await this.keys.list(principal, Object.assign(new ListApiKeysQuery(), { page: 1, limit: 1 }))).total > 0;
    return this.pages.render(request, reply, 'overview', {
      title: 'Overview',
      tenant: me.tenant,
      role: principal.role,
      activeKeys: active.total,
      seesAll,
      usage,
      events,
      onboarding: !anyKey,
      snippet: `curl -H "x-api-key: $KEYWARD_API_KEY" ${this.config.publicUrl}/config`,
    });
  }

  @Get('sessions')
  @SignedIn()
  async sessionsPage(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const sessions = await this.sessions.listForUser(principal.tenantId!, principal.userId!, principal.sessionId);
    return this.pages.render(request, reply, 'sessions', {
      title: 'Sessions',
      sessions,
      others: sessions.some((s) => !s.current),
    });
  }

  @Post('sessions/others/revoke')
  @SignedIn()
  async revokeOtherSessions(@CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply) {
    await this.sessions.revokeAllForUser(
      principal.tenantId!,
      principal.userId!,
      'revoked_by_user',
      principal.sessionId,
    );
    this.pages.redirect(reply, '/dashboard/sessions', 'sessions-revoked');
  }

  @Post('sessions/:id/revoke')
  @SignedIn()
  async revokeSession(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Res() reply: FastifyReply,
  ) {
    if (!(await this.sessions.revokeOwn(principal.tenantId!, principal.userId!, id, 'revoked_by_user')))
      throw notFound('Session');
    if (id !== principal.sessionId) return this.pages.redirect(reply, '/dashboard/sessions', 'session-revoked');
    const names = cookieNames(this.config);
    reply.clearCookie(names.session, sessionCookieOptions(names));
    this.pages.redirect(reply, '/login', 'signed-out');
  }

  @Get('tenants')
  @SignedIn()
  async tenantsPage(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const tenants = await this.auth.tenantsOf(principal);
    return this.pages.render(request, reply, 'tenants', { title: 'Choose a tenant', tenants });
  }

  /** The chooser and the top bar's switcher: a new session in the chosen tenant replaces this one. */
  @Post('tenants')
  @SignedIn()
  async switchTenant(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Record<string, unknown>,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const { dto, errors } = await checkForm(SwitchTenantDto, { tenantId: text(body, 'tenantId') });
    let error = errors ? 'Choose one of your tenants.' : undefined;
    if (!error) {
      try {
        const { token } = await this.auth.switchTenant(principal, dto.tenantId, client, 'dashboard');
        const names = cookieNames(this.config);
        reply.setCookie(names.session, token, sessionCookieOptions(names));
        clearCsrfSecret(reply, names);
        return this.pages.redirect(reply, '/dashboard');
      } catch (caught) {
        error = userError(caught).message;
      }
    }
    const tenants = await this.auth.tenantsOf(principal);
    return this.pages.render(
      request,
      reply,
      'tenants',
      { title: 'Choose a tenant', tenants, error },
      HttpStatus.BAD_REQUEST,
    );
  }

  @Post('account/email')
  @SignedIn()
  async changeEmail(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Record<string, unknown>,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const values = { newEmail: text(body, 'newEmail') };
    const { dto, errors: invalid } = await checkForm(ChangeEmailDto, {
      newEmail: values.newEmail,
      currentPassword: text(body, 'emailPassword'),
    });
    const errors: Record<string, string> = {};
    if (invalid?.newEmail) errors.newEmail = 'Enter a valid email address.';
    if (invalid?.currentPassword) errors.emailPassword = 'Enter your current password.';
    if (!Object.keys(errors).length) {
      try {
        await this.auth.requestEmailChange(principal, dto, client);
        return this.pages.redirect(reply, '/dashboard/account', 'email-change-sent');
      } catch (caught) {
        const { message } = userError(caught);
        errors[(caught as { code?: string }).code === 'INVALID_CURRENT_PASSWORD' ? 'emailPassword' : 'newEmail'] =
          message;
      }
    }
    return this.pages.render(request, reply, 'account', { title: 'Account', errors, values }, HttpStatus.BAD_REQUEST);
  }

  @Get('account')
  @SignedIn()
  accountPage(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.pages.render(request, reply, 'account', { title: 'Account' });
  }

  @Post('account/password')
  @SignedIn()
  async changePassword(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Record<string, unknown>,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const currentPassword = text(body, 'currentPassword');
    const newPassword = text(body, 'newPassword');
    const errors: Record<string, string> = {};
    if (!currentPassword) errors.currentPassword = 'Enter your current password.';
    if (!newPassword) errors.newPassword = 'Enter a new password.';
    else if (newPassword !== text(body, 'confirmPassword')) errors.confirmPassword = 'The two new passwords differ.';
    if (!Object.keys(errors).length) {
      try {
        await this.auth.changePassword(principal, { currentPassword, newPassword });
        return this.pages.redirect(reply, '/dashboard/account', 'password-changed');
      } catch (error) {
        const { message } = userError(error);
        errors[(error as { code?: string }).code === 'INVALID_CURRENT_PASSWORD' ? 'currentPassword' : 'newPassword'] =
          message;
      }
    }
    return this.pages.render(request, reply, 'account', { title: 'Account', errors }, HttpStatus.BAD_REQUEST);
  }
}
