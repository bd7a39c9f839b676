import { Body, Controller, Get, HttpStatus, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authenticated, CurrentPrincipal } from '../common/auth/access.decorators';
import { Principal } from '../common/auth/principal';
import { Client, ClientInfo } from '../common/http/client-info';
import { AppException } from '../common/http/problem';
import { FactorAnswer, FactorsService } from '../mfa/factors.service';
import { MfaService } from '../mfa/mfa.service';
import { StepUpService } from '../mfa/step-up.service';
import { MFA_POLICIES, MfaPolicy } from '../tenants/tenant.entity';
import { PageRenderer, text, userError } from './pages';

type Form = Record<string, unknown>;

/** Pages a session held to enrolment may use (the tenant requires a factor it has not added). */
const Enrolling = () => Authenticated({ via: ['session'], duringEnrolment: true });
const SignedIn = () => Authenticated({ via: ['session'] });

/** Where the re-verify page may send the browser back to: a dashboard path on this site. */
export const safeNext = (next: unknown): string =>
  typeof next === 'string' && /^\/dashboard(\/|\?|$)/.test(next) && !next.startsWith('//') ? next : '/dashboard';

/** JSON for an inline <script type="application/json">: no "<" can close the element. */
export const inlineJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

/**
 * The message of a refused factor answer, for a form: a wrong code is the person's mistake,
 * not a lost sign-in (userError would send a 401 to the sign-in page).
 */
export function factorError(error: unknown): { status: number; message: string } {
  const code = (error as AppException)?.code;
  if (code === 'INVALID_FACTOR') return { status: HttpStatus.UNAUTHORIZED, message: 'That code was not accepted.' };
  if (code === 'CHALLENGE_INVALID')
    return { status: HttpStatus.UNAUTHORIZED, message: (error as AppException).message };
  return userError(error);
}

/** The person's second factors, the tenant's policy (owners), and the re-verify (step-up) page. */
@ApiExcludeController()
@Controller('dashboard')
export class SecurityPagesController {
  constructor(
    private readonly mfa: MfaService,
    private readonly factors: FactorsService,
    private readonly stepUp: StepUpService,
    private readonly pages: PageRenderer,
  ) {}

  @Get('security')
  @Enrolling()
  async securityPage(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    return this.renderSecurity(principal, request, reply);
  }

  @Post('security/totp')
  @Enrolling()
  async startTotp(
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    try {
      const enrolment = await this.mfa.startTotp(principal);
      return this.pages.render(request, reply, 'totp-enrol', { title: 'Set up an authenticator app', ...enrolment });
    } catch (error) {
      return this.renderSecurity(principal, request, reply, userError(error));
    }
  }

  @Post('security/totp/confirm')
  @Enrolling()
  async confirmTotp(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const code = text(body, 'code').replace(/\s/g, '');
    let message = 'Enter the 6 digits your app shows.';
    let status: number = HttpStatus.BAD_REQUEST;
    if (/^\d{6}$/.test(code)) {
      try {
        const { recoveryCodes } = await this.mfa.confirmTotp(principal, code, client);
        if (!recoveryCodes) return this.pages.redirect(reply, '/dashboard/security', 'totp-added');
        return this.pages.render(request, reply, 'recovery-codes', { title: 'Your recovery codes', recoveryCodes });
      } catch (error) {
        ({ status, message } = userError(error));
      }
    }
    const pending = await this.mfa.pendingTotp(principal);
    if (!pending) return this.renderSecurity(principal, request, reply, { status, message });
    return this.pages.render(
      request,
      reply,
      'totp-enrol',
      { title: 'Set up an authenticator app', ...pending, errors: { code: message } },
      status,
    );
  }

  @Post('security/totp/remove')
  @SignedIn()
  async removeTotp(
    @CurrentPrincipal() principal: Principal,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    try {
      await this.mfa.removeTotp(principal, client);
    } catch (error) {
      if ((error as AppException).code === 'STEP_UP_REQUIRED') throw error;
      return this.renderSecurity(principal, request, reply, userError(error));
    }
    this.pages.redirect(reply, '/dashboard/security', 'totp-removed');
  }

  @Post('security/recovery-codes')
  @SignedIn()
  async regenerateRecoveryCodes(
    @CurrentPrincipal() principal: Principal,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    try {
      const { recoveryCodes } = await this.mfa.regenerateRecoveryCodes(principal, client);
      return this.pages.render(request, reply, 'recovery-codes', { title: 'Your recovery codes', recoveryCodes });
    } catch (error) {
      if ((error as AppException).code === 'STEP_UP_REQUIRED') throw error;
      return this.renderSecurity(principal, request, reply, userError(error));
    }
  }

  @Post('security/passkeys/:id')
  @SignedIn()
  async renamePasskey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: Form,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const name = text(body, 'name').trim();
    if (!name || name.length > 64)
      return this.renderSecurity(principal, request, reply, {
        status: HttpStatus.BAD_REQUEST,
        message: 'A passkey name has 1 to 64 characters.',
      });
    await this.mfa.renamePasskey(principal, id, name);
    this.pages.redirect(reply, '/dashboard/security', 'passkey-renamed');
  }

  @Post('security/passkeys/:id/remove')
  @SignedIn()
  async removePasskey(
    @CurrentPrincipal() principal: Principal,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Client() client: ClientInfo,
    @Res() reply: FastifyReply,
  ) {
    await this.mfa.removePasskey(principal, id, client);
    this.pages.redirect(reply, '/dashboard/security', 'passkey-removed');
  }

  @Post('security/policy')
  @Authenticated({ via: ['session'], roles: ['owner'] })
  async setPolicy(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const policy = text(body, 'policy') as MfaPolicy;
    if (!MFA_POLICIES.includes(policy))
      return this.renderSecurity(principal, request, reply, {
        status: HttpStatus.BAD_REQUEST,
        message: 'Choose who must have a second factor.',
      });
    await this.mfa.setPolicy(principal, policy, client);
    this.pages.redirect(reply, '/dashboard/security', 'policy-saved');
  }

  @Get('step-up')
  @SignedIn()
  async stepUpPage(
    @CurrentPrincipal() principal: Principal,
    @Query('next') next: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    return this.renderStepUp(principal, safeNext(next), request, reply);
  }

  @Post('step-up')
  @SignedIn()
  async stepUpForm(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ) {
    const next = safeNext(text(body, 'next'));
    const field = text(body, 'recoveryCode') ? 'recoveryCode' : 'code';
    const answer: FactorAnswer =
      field === 'code' ? { code: text(body, 'code').replace(/\s/g, '') } : { recoveryCode: text(body, 'recoveryCode') };
    if (field === 'code' && !/^\d{6}$/.test(answer.code!))
      return this.renderStepUp(principal, next, request, reply, { code: 'Enter the 6 digits your app shows.' }, 400);
    try {
      await this.stepUp.verify(principal, answer, client);
    } catch (error) {
      const { status, message } = factorError(error);
      return this.renderStepUp(principal, next, request, reply, { [field]: message }, status);
    }
    this.pages.redirect(reply, next, 'stepped-up');
  }

  /** The passkey answer of the re-verify page (JSON, from mfa.js). */
  @Post('step-up/passkey')
  @SignedIn()
  async stepUpPasskey(
    @CurrentPrincipal() principal: Principal,
    @Body() body: Form,
    @Client() client: ClientInfo,
    @Res() reply: FastifyReply,
  ) {
    try {
      await this.stepUp.verify(
        principal,
        { challenge: text(body, 'challenge'), webauthn: body.webauthn as never },
        client,
      );
    } catch (error) {
      const { status, message } = factorError(error);
      return reply.status(status).send({ message });
    }
    return reply.send({
      redirect: `${safeNext(body.next)}${safeNext(body.next).includes('?') ? '&' : '?'}flash=stepped-up`,
    });
  }

  @Post('step-up/passkey/options')
  @SignedIn()
  async stepUpPasskeyOptions(@CurrentPrincipal() principal: Principal, @Res() reply: FastifyReply) {
    const { challenge, webauthn } = await this.stepUp.begin(principal);
    return reply.send({ challenge, webauthn });
  }

  private async renderStepUp(
    principal: Principal,
    next: string,
    request: FastifyRequest,
    reply: FastifyReply,
    errors?: Record<string, string>,
    status = HttpStatus.OK,
  ) {
    const methods = await this.factors.methods(principal.personId!);
    return this.pages.render(
      request,
      reply,
      'verify-factor',
      {
        title: 'Confirm it is you',
        intro: 'This action needs a second factor from the last 5 minutes.',
        methods,
        action: '/dashboard/step-up',
        passkeyAction: '/dashboard/step-up/passkey',
        next,
        cancel: next,
        errors,
      },
      status,
    );
  }

  private async renderSecurity(
    principal: Principal,
    request: FastifyRequest,
    reply: FastifyReply,
    problem?: { status: number; message: string },
  ) {
    const status = await this.mfa.status(principal);
    const { policy } = await this.mfa.policy(principal.tenantId!);
    return this.pages.render(
      request,
      reply,
      'security',
      {
        title: 'Sign-in security',
        status,
        hasFactor: status.totp || status.passkeys.length > 0,
        enrolmentRequired: principal.mfaEnrolmentRequired === true,
        isOwner: principal.role === 'owner',
        policy,
        error: problem?.message,
      },
      problem?.status ?? HttpStatus.OK,
    );
  }
}
