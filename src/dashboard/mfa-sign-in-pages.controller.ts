import { Body, Controller, Get, HttpStatus, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthService } from '../auth/auth.service';
import { AppConfig } from '../config/app-config';
import { Public } from '../common/auth/access.decorators';
import { Client, ClientInfo } from '../common/http/client-info';
import { FactorAnswer } from '../mfa/factors.service';
import { CHALLENGE_TTL_MS } from '../mfa/mfa-challenges.service';
import { OperatorSessionsService } from '../operators/operator-sessions.service';
import { SessionsService } from '../sessions/sessions.service';
import { CsrfGuard, PageRenderer, text } from './pages';
import { factorError, inlineJson } from './security-pages.controller';
import { browserDevice, clearCsrfSecret, CookieNames, cookieNames, sessionCookieOptions } from './web';

type Form = Record<string, unknown>;

/** Where a completed sign-in goes: an operator's console, or the dashboard. */

/** `__Secure-` rather than `__Host-`: the cookies are scoped to /login. */
const mfaCookie = (names: CookieNames) => `${names.secure ? '__Secure-' : ''}kw_mfa_challenge`;
const passkeyCookie = (names: CookieNames) => `${names.secure ? '__Secure-' : ''}kw_passkey_challenge`;
const challengeCookieOptions = (names: CookieNames) => ({
  path: '/login',
  httpOnly: true,
  sameSite: 'strict' as const,
  secure: names.secure,
  maxAge: CHALLENGE_TTL_MS / 1000,
});

/**
 * The dashboard's second sign-in step and its passwordless passkey sign-in. The challenge
 * travels in an HttpOnly cookie of /login (never in a URL or the page), lives five minutes,
 * and is spent by the step that succeeds.
 */
/** Where a finished sign-in lands: the chooser for someone in several tenants. */
/** An operator's console; someone in several tenants first says which one they came for, as after a password alone. */
const landing = (signedIn: { console: boolean; tenants: unknown[] }) =>
  signedIn.console ? '/operator' : signedIn.tenants.length > 1 ? '/dashboard/tenants' : '/dashboard';

@ApiExcludeController()
@Controller('login')
export class MfaSignInPagesController {
  private readonly cookies: CookieNames;

  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
    private readonly operatorSessions: OperatorSessionsService,
    private readonly pages: PageRenderer,
    config: AppConfig,
  ) {
    this.cookies = cookieNames(config);
  }

  @Get('mfa')
  @Public()
  async mfaPage(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    return this.renderMfa(request, reply);
  }

  @Post('mfa')
  @Public()
  @UseGuards(CsrfGuard)
  async mfa(
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const field = text(body, 'recoveryCode') ? 'recoveryCode' : 'code';
    const answer: FactorAnswer =
      field === 'code' ? { code: text(body, 'code').replace(/\s/g, '') } : { recoveryCode: text(body, 'recoveryCode') };
    if (field === 'code' && !/^\d{6}$/.test(answer.code!))
      return this.renderMfa(request, reply, { code: 'Enter the 6 digits your app shows.' }, HttpStatus.BAD_REQUEST);
    let signedIn;
    try {
      signedIn = await this.auth.dashboardMfa(
        request.cookies[mfaCookie(this.cookies)],
        answer,
        client,
        browserDevice(request, reply, this.cookies),
      );
      await this.signedIn(request, reply, signedIn.token);
    } catch (error) {
      const { status, message } = factorError(error);
      return this.renderMfa(request, reply, { [field]: message }, status);
    }
    this.pages.redirect(reply, landing(signedIn));
  }

  /** The passkey answer to the second step (JSON, from mfa.js). */
  @Post('mfa/passkey')
  @Public()
  @UseGuards(CsrfGuard)
  async mfaPasskey(
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    let signedIn;
    try {
      signedIn = await this.auth.dashboardMfa(
        request.cookies[mfaCookie(this.cookies)],
        { webauthn: body.webauthn as never },
        client,
        browserDevice(request, reply, this.cookies),
      );
      await this.signedIn(request, reply, signedIn.token);
    } catch (error) {
      const { status, message } = factorError(error);
      return reply.status(status).send({ message });
    }
    return reply.send({ redirect: landing(signedIn) });
  }

  /** Starts a passwordless sign-in: options for any passkey of this site the browser holds. */
  @Post('passkey/options')
  @Public()
  @UseGuards(CsrfGuard)
  async passkeyOptions(@Res() reply: FastifyReply) {
    const { challenge, webauthn } = await this.auth.passkeyOptions();
    reply.setCookie(passkeyCookie(this.cookies), challenge, challengeCookieOptions(this.cookies));
    return reply.send({ webauthn });
  }

  @Post('passkey')
  @Public()
  @UseGuards(CsrfGuard)
  async passkey(
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    let signedIn;
    try {
      signedIn = await this.auth.dashboardPasskey(
        request.cookies[passkeyCookie(this.cookies)],
        body.webauthn,
        client,
        browserDevice(request, reply, this.cookies),
      );
      reply.clearCookie(passkeyCookie(this.cookies), challengeCookieOptions(this.cookies));
      await this.signedIn(request, reply, signedIn.token);
    } catch (error) {
      const { status, message } = factorError(error);
      return reply.status(status).send({ message });
    }
    return reply.send({ redirect: landing(signedIn) });
  }

  /** Called by the password step when a second factor is needed. */
  static startStep(reply: FastifyReply, names: CookieNames, challenge: string): void {
    reply.setCookie(mfaCookie(names), challenge, challengeCookieOptions(names));
  }

  private async signedIn(request: FastifyRequest, reply: FastifyReply, token: string): Promise<void> {
    const previous = request.cookies[this.cookies.session];
    const old = previous ? await this.sessions.principalForDashboardToken(previous) : null;
    if (old) await this.sessions.revoke(old.tenantId!, old.sessionId!, 'replaced_by_sign_in');
    else if (previous) await this.operatorSessions.revokeToken(previous, 'replaced_by_sign_in');
    reply.setCookie(this.cookies.session, token, sessionCookieOptions(this.cookies));
    reply.clearCookie(mfaCookie(this.cookies), challengeCookieOptions(this.cookies));
    clearCsrfSecret(reply, this.cookies);
  }

  private async renderMfa(
    request: FastifyRequest,
    reply: FastifyReply,
    errors?: Record<string, string>,
    status: number = HttpStatus.OK,
  ) {
    const step = await this.auth.pendingDashboardMfa(request.cookies[mfaCookie(this.cookies)]);
    if (!step) {
      reply.clearCookie(mfaCookie(this.cookies), challengeCookieOptions(this.cookies));
      return this.pages.redirect(reply, '/login', 'mfa-expired');
    }
    return this.pages.render(
      request,
      reply,
      'verify-factor',
      {
        title: 'Confirm your sign-in',
        intro: 'Your password was right. Now confirm with your second factor.',
        methods: step.methods,
        action: '/login/mfa',
        passkeyAction: '/login/mfa/passkey',
        webauthnOptions: step.webauthn ? inlineJson(step.webauthn) : undefined,
        cancel: '/login',
        errors,
      },
      status,
    );
  }
}
