import { HttpStatus, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../../../config/app-config';
import { assertCsrf, cookieNames } from '../../../dashboard/web';
import { SessionsService } from '../../../sessions/sessions.service';
import { AppException } from '../../http/problem';
import { Principal } from '../principal';
import { Credential } from './credential';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The dashboard's session cookie. A cookie that names no live session is refused (pages send
 * the browser to /login). Whatever the route — pages or /v1 — a request that changes something
 * with this cookie must also carry this browser's CSRF token.
 */
@Injectable()
export class SessionCredential implements Credential {
  readonly kind = 'session';
  private readonly cookie: string;

  constructor(
    private readonly sessions: SessionsService,
    private readonly host: HttpAdapterHost,
    config: AppConfig,
  ) {
    this.cookie = cookieNames(config).session;
  }

  identify(request: FastifyRequest): Promise<Principal> | null {
    const token = request.cookies?.[this.cookie];
    return token ? this.principalOf(request, token) : null;
  }

  private async principalOf(request: FastifyRequest, token: string): Promise<Principal> {
    const principal = await this.sessions.principalForDashboardToken(token);
    if (!principal)
      throw new AppException(HttpStatus.UNAUTHORIZED, 'SESSION_INVALID', 'The session has ended; sign in again');
    if (!SAFE_METHODS.has(request.method)) assertCsrf(this.host.httpAdapter.getInstance(), request);
    return principal;
  }
}
