import { Body, Controller, Get, HttpStatus, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { AppConfig } from '../config/app-config';
import { Authenticated, CurrentPrincipal, Public } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Client, ClientInfo } from '../common/http/client-info';
import { AppException } from '../common/http/problem';
import { OperatorSessionsService } from '../operators/operator-sessions.service';
import { SessionsService } from '../sessions/sessions.service';
import { ForgotPasswordDto } from '../auth/dto/auth.dto';
import { MfaSignInPagesController } from './mfa-sign-in-pages.controller';
import { checkForm, CsrfGuard, PageRenderer, text, userError } from './pages';
import { browserDevice, clearCsrfSecret, CookieNames, cookieNames, sessionCookieOptions } from './web';

type Form = Record<string, unknown>;

/** Sign-in, sign-out, forgotten password, reset and invitation pages. */
@ApiExcludeController()
@Controller()
export class AuthPagesController {
  private readonly cookies: ReturnType<typeof cookieNames>;

  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
    private readonly operatorSessions: OperatorSessionsService,
    private readonly pages: PageRenderer,
    config: AppConfig,
  ) {
    this.cookies = cookieNames(config);
  }

  @Get('login')
  @Public()
  loginPage(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const console = (request.query as { console?: unknown } | undefined)?.console === '1';
    return this.pages.render(request, reply, 'login', { title: 'Sign in', console });
  }

  @Post('login')
  @Public()
  @UseGuards(CsrfGuard)
  async login(
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const email = text(body, 'email').trim().toLowerCase();
    const password = text(body, 'password');
    const console = text(body, 'console') === '1';
    const again = (status: number, error: string) =>
      this.pages.render(request, reply, 'login', { title: 'Sign in', email, error, console }, status);
    if (!email || !password) return again(HttpStatus.BAD_REQUEST, 'Enter your email and password.');
    let person;
    try {
      person = await this.auth.verifyCredentials(email, password, client);
    } catch (error) {
      if (error instanceof AppException && error.getStatus() === HttpStatus.UNAUTHORIZED)
        return again(HttpStatus.UNAUTHORIZED, 'Invalid email or password.');
      const { status, message } = userError(error);
      const retryAfter = (error as AppException).details as { retryAfterSeconds?: number } | undefined;
      if (retryAfter?.retryAfterSeconds) reply.header('retry-after', String(retryAfter.retryAfterSeconds));
      return again(status, message);
    }
    // A second factor first, when the person has one: the challenge waits in a /login cookie.
    const step = await this.auth.beginDashboardMfa(person, { console });
    if (step) {
      MfaSignInPagesController.startStep(reply, this.cookies, step.challenge);
      return this.pages.redirect(reply, '/login/mfa');
    }
    // A sign-in always starts a new session; the one this browser had (if any) ends.
    const previous = request.cookies[this.cookies.session];
    const old = previous ? await this.sessions.principalForDashboardToken(previous) : null;
    if (old) await this.sessions.revoke(old.tenantId!, old.sessionId!, 'replaced_by_sign_in');
    else if (previous) await this.operatorSessions.revokeToken(previous, 'replaced_by_sign_in');
    const device = browserDevice(request, reply, this.cookies);
    let signedIn;
    try {
      signedIn = await this.auth.signInDashboard(person, undefined, { client, device, console });
    } catch (error) {
      if (error instanceof AppException && error.getStatus() === HttpStatus.UNAUTHORIZED)
        return again(HttpStatus.UNAUTHORIZED, 'Invalid email or password.');
      throw error;
    }
    const { token, tenants } = signedIn;
    reply.setCookie(this.cookies.session, token, sessionCookieOptions(this.cookies));
    clearCsrfSecret(reply, this.cookies);
    // An operator's console; someone in several tenants first says which one they came for.
    this.pages.redirect(
      reply,
      signedIn.console ? '/operator' : tenants.length > 1 ? '/dashboard/tenants' : '/dashboard',
    );
  }

  @Post('logout')
  @Authenticated({ via: ['session'], duringEnrolment: true })
  async logout(@CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply) {
    await this.auth.logout(principal);
    reply.clearCookie(this.cookies.session, sessionCookieOptions(this.cookies));
    clearCsrfSecret(reply, this.cookies);
    this.pages.redirect(reply, '/login', 'signed-out');
  }

  @Get('forgot')
  @Public()
  forgotPage(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.pages.render(request, reply, 'forgot', { title: 'Forgot password' });
  }

  @Post('forgot')
  @Public()
  @UseGuards(CsrfGuard)
  async forgot(
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const { dto, errors } = await checkForm(ForgotPasswordDto, { email: text(body, 'email') });
    const view = { title: 'Forgot password', email: text(body, 'email') };
    if (errors)
      return this.pages.render(
        request,
        reply,
        'forgot',
        { ...view, errors: { email: 'Enter a valid email address.' } },
        HttpStatus.BAD_REQUEST,
      );
    try {
      await this.auth.forgotPassword(dto.email, client);
    } catch (error) {
      const { status, message } = userError(error);
      return this.pages.render(request, reply, 'forgot', { ...view, error: message }, status);
    }
    return this.pages.render(request, reply, 'forgot', {
      title: 'Forgot password',
      sent: true,
      flash: 'If an account exists for this email, a reset link has been sent.',
    });
  }

  @Get('reset')
  @Public()
  resetPage(@Query('token') token: string | undefined, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.tokenPage('reset', token, request, reply);
  }

  @Post('reset')
  @Public()
  @UseGuards(CsrfGuard)
  reset(@Body() body: Form, @Client() client: ClientInfo, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.spendToken('reset', body, request, reply, (token, password) =>
      this.auth.resetPassword({ token, newPassword: password }, client),
    );
  }

  @Get('invite')
  @Public()
  invitePage(@Query('token') token: string | undefined, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.tokenPage('invite', token, request, reply);
  }

  @Get('email/confirm')
  @Public()
  confirmEmailPage(
    @Query('token') token: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    return this.tokenPage('email', token, request, reply);
  }

  @Post('email/confirm')
  @Public()
  @UseGuards(CsrfGuard)
  confirmEmail(
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    return this.spendToken('email', body, request, reply, (token) => this.auth.confirmEmailChange({ token }, client));
  }

  @Post('invite')
  @Public()
  @UseGuards(CsrfGuard)
  invite(@Body() body: Form, @Client() client: ClientInfo, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.spendToken('invite', body, request, reply, (token, password) =>
      this.auth.acceptInvitation({ token, password }, client),
    );
  }

  /**
   * A mailed link `/<page>?token=…` is opened once: the token moves into an HttpOnly cookie of
   * that page's path and the browser is sent to the bare URL. Reloading, the page's own
   * requests and any link followed from it never carry the token (no Referer, no history, no
   * request log), and no Referer at all leaves these pages.
   */
  private async tokenPage(page: TokenPage, token: string | undefined, request: FastifyRequest, reply: FastifyReply) {
    reply.header('referrer-policy', 'no-referrer');
    if (token) {
      reply.setCookie(tokenCookieName(this.cookies, page), token, tokenCookieOptions(this.cookies, page));
      return this.pages.redirect(reply, TOKEN_PAGES[page].action);
    }
    return this.pages.render(request, reply, TOKEN_PAGES[page].view, await this.tokenView(page, request));
  }

  /** What the page asks for: a person who already has an account accepts with its password. */
  private async tokenView(page: TokenPage, request: FastifyRequest): Promise<Record<string, unknown>> {
    const token = request.cookies[tokenCookieName(this.cookies, page)];
    const invited = page === 'invite' && token ? await this.auth.linkedMembership('invitation', token) : null;
    // Whoever holds the link learns whom it is for: the tenant, the email and the role.
    const invitation = page === 'invite' && token ? await this.auth.describeInvitation(token) : null;
    return invited?.person.passwordHash
      ? { ...TOKEN_PAGES[page], ...EXISTING_ACCOUNT, invitation }
      : { ...TOKEN_PAGES[page], invitation };
  }

  /** The form post: the token comes from the page's cookie (or a `token` field, for scripts). */
  private async spendToken(
    page: TokenPage,
    body: Form,
    request: FastifyRequest,
    reply: FastifyReply,
    spend: (token: string, password: string) => Promise<void>,
  ) {
    reply.header('referrer-policy', 'no-referrer');
    const cookie = tokenCookieName(this.cookies, page);
    const token = request.cookies[cookie] || text(body, 'token');
    const view = await this.tokenView(page, request);
    try {
      await spend(token, text(body, 'password'));
    } catch (error) {
      const { status, message } = userError(error);
      if ((error as AppException).code === 'INVALID_TOKEN')
        reply.clearCookie(cookie, tokenCookieOptions(this.cookies, page));
      return this.pages.render(
        request,
        reply,
        TOKEN_PAGES[page].view,
        { ...view, errors: { password: message } },
        status,
      );
    }
    reply.clearCookie(cookie, tokenCookieOptions(this.cookies, page));
    this.pages.redirect(reply, '/login', TOKEN_PAGES[page].done);
  }
}

type TokenPage = 'reset' | 'invite' | 'email';

const TOKEN_PAGES: Record<TokenPage, { title: string; action: string; view: string; done: string }> = {
  reset: { title: 'Choose a new password', action: '/reset', view: 'set-password', done: 'password-reset' },
  invite: { title: 'Accept the invitation', action: '/invite', view: 'set-password', done: 'invitation-accepted' },
  email: {
    title: 'Confirm your new email address',
    action: '/email/confirm',
    view: 'confirm-email',
    done: 'email-changed',
  },
};

/** The invitation page for someone who already has a Keyward account: no new password. */
const EXISTING_ACCOUNT = {
  existing: true,
  passwordLabel: 'Your Keyward password',
  passwordAutocomplete: 'current-password',
  button: 'Accept the invitation',
  intro: 'This address already has a Keyward account: accept with its password to join.',
};

/** Long enough to choose a password; the token itself lives 30 minutes (reset) or 7 days. */
const TOKEN_COOKIE_MAX_AGE_S = 30 * 60;

/** `__Secure-` rather than `__Host-`: the cookie is scoped to the page's own path. */
export const tokenCookieName = (names: CookieNames, page: TokenPage) =>
  `${names.secure ? '__Secure-' : ''}kw_${page}_token`;

const tokenCookieOptions = (names: CookieNames, page: TokenPage) => ({
  path: TOKEN_PAGES[page].action,
  httpOnly: true,
  sameSite: 'lax' as const,
  secure: names.secure,
  maxAge: TOKEN_COOKIE_MAX_AGE_S,
});
