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
import { checkForm, CsrfGuard, PageRenderer, text, userError } from './pages';
import { clearCsrfSecret, CookieNames, cookieNames, sessionCookieOptions } from './web';

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
    // A sign-in always starts a new session; the one this browser had (if any) ends.
    const previous = request.cookies[this.cookies.session];
    const old = previous ? await this.sessions.principalForDashboardToken(previous) : null;
    if (old) await this.sessions.revoke(old.tenantId!, old.sessionId!, 'replaced_by_sign_in');
    else if (previous) await this.operatorSessions.revokeToken(previous, 'replaced_by_sign_in');
    let signedIn;
    try {
      signedIn = await this.auth.signInDashboard(person, undefined, client, { console });
    } catch (error) {
      if (error instanceof AppException && error.getStatus() === HttpStatus.UNAUTHORIZED)
        return again(HttpStatus.UNAUTHORIZED, 'Invalid email or password.');
      throw error;
    }
    const { token, tenants } = signedIn;
    reply.setCookie(this.cookies.session, token, sessionCookieOptions(this.cookies));
    clearCsrfSecret(reply, this.cookies);
    // Someone in several tenants first says which one they came for.
    this.pages.redirect(reply, signedIn.console ? '/operator' : tenants.length > 1 ? '/dashboard' : '/dashboard');
  }

  @Post('logout')
  @Authenticated({ via: ['session'] })
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
  private tokenPage(page: TokenPage, token: string | undefined, request: FastifyRequest, reply: FastifyReply) {
    reply.header('referrer-policy', 'no-referrer');
    if (token) {
      reply.setCookie(tokenCookieName(this.cookies, page), token, tokenCookieOptions(this.cookies, page));
      return this.pages.redirect(reply, `/${page}`);
    }
    return this.pages.render(request, reply, 'set-password', { ...TOKEN_PAGES[page] });
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
    try {
      await spend(token, text(body, 'password'));
    } catch (error) {
      const { status, message } = userError(error);
      if ((error as AppException).code === 'INVALID_TOKEN')
        reply.clearCookie(cookie, tokenCookieOptions(this.cookies, page));
      return this.pages.render(
        request,
        reply,
        'set-password',
        { ...TOKEN_PAGES[page], errors: { password: message } },
        status,
      );
    }
    reply.clearCookie(cookie, tokenCookieOptions(this.cookies, page));
    this.pages.redirect(reply, '/login', page === 'invite' ? 'invitation-accepted' : 'password-reset');
  }
}

type TokenPage = 'reset' | 'invite';

const TOKEN_PAGES: Record<TokenPage, { title: string; action: string }> = {
  reset: { title: 'Choose a new password', action: '/reset' },
  invite: { title: 'Accept the invitation', action: '/invite' },
};

/** Long enough to choose a password; the token itself lives 30 minutes (reset) or 7 days. */
const TOKEN_COOKIE_MAX_AGE_S = 30 * 60;

/** `__Secure-` rather than `__Host-`: the cookie is scoped to the page's own path. */
export const tokenCookieName = (names: CookieNames, page: TokenPage) =>
  `${names.secure ? '__Secure-' : ''}kw_${page}_token`;

const tokenCookieOptions = (names: CookieNames, page: TokenPage) => ({
  path: `/${page}`,
  httpOnly: true,
  sameSite: 'lax' as const,
  secure: names.secure,
  maxAge: TOKEN_COOKIE_MAX_AGE_S,
});
