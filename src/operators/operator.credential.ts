import { HttpStatus, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config';
import { Principal } from '../common/auth/principal';
import { AppException } from '../common/http/problem';
import { assertCsrf, cookieNames } from '../dashboard/web';
import { SessionsService } from '../sessions/sessions.service';
import { OperatorSessionsService } from './operator-sessions.service';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The console's rule (`@Operator()`): the dashboard cookie must name a live operator session.
 * A tenant member's session is refused with 403 (signed in, but not an operator), no cookie or
 * an ended session with 401 (pages send the browser to /login). Changes need the CSRF token.
 */
@Injectable()
export class OperatorCredential {
  private readonly cookie: string;

  constructor(
    private readonly operatorSessions: OperatorSessionsService,
    private readonly sessions: SessionsService,
    private readonly host: HttpAdapterHost,
    config: AppConfig,
  ) {
    this.cookie = cookieNames(config).session;
  }

  async admit(request: FastifyRequest): Promise<true> {
    const token = request.cookies?.[this.cookie];
    if (!token) throw new AppException(HttpStatus.UNAUTHORIZED, 'UNAUTHENTICATED', 'Sign in as an operator');
    const principal: Principal | null = await this.operatorSessions.principalForToken(token);
    if (!principal) {
      if (await this.sessions.principalForDashboardToken(token))
        throw new AppException(HttpStatus.FORBIDDEN, 'OPERATOR_ONLY', 'The operator console is for operators only');
      throw new AppException(HttpStatus.UNAUTHORIZED, 'SESSION_INVALID', 'The session has ended; sign in again');
    }
    if (!SAFE_METHODS.has(request.method)) assertCsrf(this.host.httpAdapter.getInstance(), request);
    request.principal = principal;
    return true;
  }
}
