import { Body, Controller, Get, HttpStatus, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { AppConfig } from '../config/app-config';
import { Authenticated, CurrentPrincipal, Public } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Client, ClientInfo } from '../common/http/client-info';
import { AppException } from '../common/http/problem';
import { SessionsService } from '../sessions/sessions.service';
import { ForgotPasswordDto } from '../auth/dto/auth.dto';
import { checkForm, CsrfGuard, PageRenderer, text, userError } from './pages';
import { cookieNames, sessionCookieOptions } from './web';

type Form = Record<string, unknown>;

/** Sign-in, sign-out, forgotten password, reset and invitation pages. */
@ApiExcludeController()
@Controller()
export class AuthPagesController {
  private readonly cookies: ReturnType<typeof cookieNames>;

  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
    private readonly pages: PageRenderer,
    config: AppConfig,
  ) {
    this.cookies = cookieNames(config);
  }

  @Get('login')
  @Public()
  loginPage(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.pages.render(request, reply, 'login', { title: 'Sign in' });
  }

  @Post('login')
  @Public()
  @UseGuards(CsrfGuard)
  async login(@Body() body: Form, @Client() client: ClientInfo, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const email = text(body, 'email').trim().toLowerCase();
    const password = text(body, 'password');
    const again = (status: number, error: string) => this.pages.render(request, reply, 'login', { title: 'Sign in', email, error }, status);
    if (!email || !password) return again(HttpStatus.BAD_REQUEST, 'Enter your email and password.');
    let user;
    try {
      user = await this.auth.verifyCredentials(email, password, client);
    } catch (error) {
      if (error instanceof AppException && error.getStatus() === HttpStatus.UNAUTHORIZED) return again(HttpStatus.UNAUTHORIZED, 'Invalid email or password.');
      const { status, message } = userError(error);
      const retryAfter = (error as AppException).details as { retryAfterSeconds?: number } | undefined;
      if (retryAfter?.retryAfterSeconds) reply.header('retry-after', String(retryAfter.retryAfterSeconds));
      return again(status, message);
    }
    // A sign-in always starts a new session; the one this browser had (if any) ends.
    const previous = request.cookies[this.cookies.session];
    const old = previous ? await this.sessions.principalForDashboardToken(previous) : null;
    if (old) await this.sessions.revoke(old.tenantId!, old.sessionId!, 'replaced_by_sign_in');
    const { token } = await this.auth.startDashboardSession(user, client);
    reply.setCookie(this.cookies.session, token, sessionCookieOptions(this.cookies));
    this.pages.redirect(reply, '/dashboard');
  }

  @Post('logout')
  @Authenticated({ via: ['session'] })
  async logout(@CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply) {
    await this.auth.logout(principal);
    reply.clearCookie(this.cookies.session, sessionCookieOptions(this.cookies));
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
  async forgot(@Body() body: Form, @Client() client: ClientInfo, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const { dto, errors } = await checkForm(ForgotPasswordDto, { email: text(body, 'email') });
    const view = { title: 'Forgot password', email: text(body, 'email') };
    if (errors) return this.pages.render(request, reply, 'forgot', { ...view, errors: { email: 'Enter a valid email address.' } }, HttpStatus.BAD_REQUEST);
    try {
      await this.auth.forgotPassword(dto.email, client);
    } catch (error) {
      const { status, message } = userError(error);
      return this.pages.render(request, reply, 'forgot', { ...view, error: message }, status);
    }
    return this.pages.render(request, reply, 'forgot', { title: 'Forgot password', sent: true, flash: 'If an account exists for this email, a reset link has been sent.' });
  }

  @Get('reset')
  @Public()
  resetPage(@Query('token') token: string | undefined, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.pages.render(request, reply, 'set-password', { title: 'Choose a new password', action: '/reset', token: token ?? '' });
  }

  @Post('reset')
  @Public()
  @UseGuards(CsrfGuard)
  async reset(@Body() body: Form, @Client() client: ClientInfo, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const token = text(body, 'token');
    try {
      await this.auth.resetPassword({ token, newPassword: text(body, 'password') }, client);
    } catch (error) {
      const { status, message } = userError(error);
      return this.pages.render(request, reply, 'set-password', { title: 'Choose a new password', action: '/reset', token, errors: { password: message } }, status);
    }
    this.pages.redirect(reply, '/login', 'password-reset');
  }

  @Get('invite')
  @Public()
  invitePage(@Query('token') token: string | undefined, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.pages.render(request, reply, 'set-password', { title: 'Accept the invitation', action: '/invite', token: token ?? '' });
  }

  @Post('invite')
  @Public()
  @UseGuards(CsrfGuard)
  async invite(@Body() body: Form, @Client() client: ClientInfo, @Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    const token = text(body, 'token');
    try {
      await this.auth.acceptInvitation({ token, password: text(body, 'password') }, client);
    } catch (error) {
      const { status, message } = userError(error);
      return this.pages.render(request, reply, 'set-password', { title: 'Accept the invitation', action: '/invite', token, errors: { password: message } }, status);
    }
    this.pages.redirect(reply, '/login', 'invitation-accepted');
  }
}
