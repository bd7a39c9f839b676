import { HttpStatus, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { FastifyRequest } from 'fastify';
import { AccessTokenClaims, JWT_ALGORITHM, JWT_AUDIENCE, JWT_ISSUER } from '../../../auth/access-token';
import { SessionsService } from '../../../sessions/sessions.service';
import { AppException } from '../../http/problem';
import { Principal } from '../principal';
import { Credential } from './credential';

const BEARER = /^bearer\s+(\S+)\s*$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const invalid = () => new AppException(HttpStatus.UNAUTHORIZED, 'TOKEN_INVALID', 'Invalid access token');

/**
 * `Authorization: Bearer <access JWT>`: signature (HS256 pinned), issuer, audience and an
 * expiry that has not passed, then a session that is still live for the same user.
 */
@Injectable()
export class JwtCredential implements Credential {
  readonly kind = 'jwt';

  constructor(
    private readonly jwt: JwtService,
    private readonly sessions: SessionsService,
  ) {}

  identify(request: FastifyRequest): Promise<Principal> | null {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !/^bearer\s/i.test(header)) return null;
    return this.principalOf(BEARER.exec(header)?.[1]);
  }

  private async principalOf(token: string | undefined): Promise<Principal> {
    if (!token) throw invalid();
    let claims: Partial<AccessTokenClaims>;
    try {
      claims = this.jwt.verify(token, { algorithms: [JWT_ALGORITHM], issuer: JWT_ISSUER, audience: JWT_AUDIENCE });
    } catch (error) {
      if ((error as Error).name === 'TokenExpiredError') {
        throw new AppException(HttpStatus.UNAUTHORIZED, 'TOKEN_EXPIRED', 'Access token expired; refresh it');
      }
      throw invalid();
    }
    // A token without an expiry would be valid for ever: none of ours is, so none is accepted.
    if (typeof claims.exp !== 'number') throw invalid();
    if (![claims.sub, claims.tid, claims.sid].every((value) => typeof value === 'string' && UUID.test(value)))
      throw invalid();
    const principal = await this.sessions.principalForSession(claims.tid!, claims.sid!, 'api');
    if (!principal || principal.userId !== claims.sub) {
      throw new AppException(HttpStatus.UNAUTHORIZED, 'SESSION_ENDED', 'This sign-in has ended; sign in again');
    }
    return principal;
  }
}
