import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { managesTenant } from '../api-keys/key-policy';
import { AuthService } from '../auth/auth.service';
import { PASSWORD_HINT } from '../auth/password.service';
import { AppConfig } from '../config/app-config';
import { Principal } from '../common/auth/principal';
import type { ErrorPage } from '../common/http/exception.filter';
import { AppException } from '../common/http/problem';
import { SessionsService } from '../sessions/sessions.service';
import { assertCsrf, cookieNames, csrfToken } from './web';

/** Messages shown after a redirect (`?flash=code`): fixed texts, never user input. */
const FLASH: Record<string, string> = {
  'signed-out': 'You have signed out.',
  'operator-created': 'The first operator has been created. Sign in with its email and password.',
  'password-reset': 'Your password has been changed. Sign in with the new one.',
  'invitation-accepted': 'Welcome! Your password is set; sign in to continue.',
  'key-updated': 'The key has been updated.',
  'key-revoked': 'The key has been revoked. It no longer works.',
  'key-disabled': 'The key has been disabled.',
  'key-enabled': 'The key has been enabled.',
  'session-revoked': 'That session has been signed out.',
  'sessions-revoked': 'Every other session has been signed out.',
  'user-invited': 'The invitation has been sent.',
  'user-updated': 'The user has been updated.',
  'config-saved': 'The configuration entry has been saved.',
  'config-deleted': 'The configuration entry has been deleted.',
  'mfa-expired': 'That sign-in step has expired. Sign in again.',
  'mfa-required': 'Your tenant requires a second factor. Add an authenticator app or a passkey to continue.',
  'totp-added': 'The authenticator app has been added.',
  'totp-removed': 'The authenticator app has been removed.',
  'passkey-added': 'The passkey has been added.',
  'passkey-renamed': 'The passkey has been renamed.',
  'passkey-removed': 'The passkey has been removed.',
  'policy-saved': 'The second-factor policy has been saved.',
  'stepped-up': 'Confirmed. You can go on for the next 5 minutes.',
  'password-changed': 'Your password has been changed. Your other sessions were signed out.',
  'email-change-sent': 'Follow the link sent to the new address to confirm it.',
  'email-changed': 'Your email address has been changed. Sign in with the new one.',
  'user-removed': 'The user has been removed from the tenant; their sessions and keys here have ended.',
};

export type FieldErrors = Record<string, string>;

/** Renders a page in the layout, with who is signed in, a CSRF token and the flash message. */
@Injectable()
export class PageRenderer {
  private readonly sessionCookie: string;

  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionsService,
    config: AppConfig,
  ) {
    this.sessionCookie = cookieNames(config).session;
  }

  render(
    request: FastifyRequest,
    reply: FastifyReply,
    page: string,
    data: Record<string, unknown> = {},
    status = HttpStatus.OK,
  ): Promise<void> {
    return this.renderAs(request.principal, request, reply, page, data, status);
  }

  /**
   * The error page keeps the navigation of whoever is signed in. An error can come before the
   * guard ran (an unknown address has no route, so no guard): then the session cookie is read
   * here. When that fails too (the database is down), the filter shows the page without the navigation.
   */
  async renderError(request: FastifyRequest, reply: FastifyReply, error: ErrorPage): Promise<void> {
    let principal: Principal | null | undefined = request.principal;
    const token = request.cookies?.[this.sessionCookie];
    if (!principal && token && error.status < 500)
      principal = await this.sessions.principalForDashboardToken(token).catch(() => null);
    return this.renderAs(principal, request, reply, 'error', { ...error }, error.status);
  }

  private async renderAs(
    principal: Principal | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    page: string,
    data: Record<string, unknown>,
    status: number,
  ): Promise<void> {
    const me = principal?.kind === 'user' ? await this.auth.me(principal) : null;
    const tenants = principal?.kind === 'user' ? await this.auth.tenantsOf(principal) : [];
    const role = principal?.role;
    const flash = FLASH[String((request.query as { flash?: unknown } | undefined)?.flash)];
    const html = await reply.viewAsync(page, {
      flash,
      ...data,
      csrf: csrfToken(reply),
      passwordHint: PASSWORD_HINT,
      me: me && { email: me.user?.email, role, tenant: me.tenant.name, tenants, otherTenants: tenants.length > 1 },
      can: { manage: managesTenant(role), writeKeys: role === 'owner' || role === 'admin' || role === 'member' },
    });
    reply.status(status).type('text/html; charset=utf-8').send(html);
  }

  redirect(reply: FastifyReply, to: string, flash?: string): void {
    reply.redirect(flash ? `${to}${to.includes('?') ? '&' : '?'}flash=${flash}` : to, HttpStatus.SEE_OTHER);
  }
}

/** Form posts that come before sign-in (login, reset, invite) check their CSRF token here. */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(private readonly host: HttpAdapterHost) {}

  canActivate(context: ExecutionContext): boolean {
    assertCsrf(this.host.httpAdapter.getInstance(), context.switchToHttp().getRequest());
    return true;
  }
}

/** A form field as one string ('' when absent or repeated). */
export const text = (body: Record<string, unknown>, name: string): string =>
  typeof body[name] === 'string' ? (body[name] as string) : '';

/** A repeated form field (checkboxes) as a list. */
export const list = (body: Record<string, unknown>, name: string): string[] =>
  ([] as unknown[]).concat(body[name] ?? []).filter((v): v is string => typeof v === 'string');

/** Runs the API's DTO rules on form values; messages by field. */
export async function checkForm<T extends object>(
  type: new () => T,
  values: object,
): Promise<{ dto: T; errors: FieldErrors | null }> {
  const dto = plainToInstance(type, values);
  const found = await validate(dto, { whitelist: true, forbidUnknownValues: false });
  const errors: FieldErrors = {};
  const walk = (items: typeof found, parent = '') => {
    for (const error of items) {
      const field = parent ? `${parent}.${error.property}` : error.property;
      if (error.constraints) errors[field] ??= Object.values(error.constraints)[0];
      walk(error.children ?? [], field);
    }
  };
  walk(found);
  return { dto, errors: Object.keys(errors).length ? errors : null };
}

/** The message of an error a person can fix (bad input, conflict, limit); anything else is rethrown. */
export function userError(error: unknown): { status: number; message: string } {
  if (error instanceof AppException || (error as { getStatus?: unknown })?.getStatus) {
    const status = (error as AppException).getStatus();
    if (status >= 400 && status < 500 && status !== HttpStatus.UNAUTHORIZED)
      return { status, message: (error as AppException).message };
  }
  throw error;
}
