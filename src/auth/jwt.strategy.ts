import { HttpStatus, Injectable } from '@nestjs/common';
import { AuthGuard, PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AppConfig } from '../config/app-config';
import { Principal } from '../common/auth/principal';
import { AppException } from '../common/http/problem';
import { SessionsService } from '../sessions/sessions.service';

export const JWT_ISSUER = 'keyward';
export const JWT_AUDIENCE = 'keyward-api';

export interface AccessTokenClaims {
  sub: string;
  tid: string;
  sid: string;
  role: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Access JWTs: HS256 only, our issuer and audience, and a session that is still live. */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    config: AppConfig,
    private readonly sessions: SessionsService,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKey: config.jwtSecret,
      algorithms: ['HS256'],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      ignoreExpiration: false,
    });
  }

  async validate(claims: Partial<AccessTokenClaims>): Promise<Principal> {
    if (![claims.sub, claims.tid, claims.sid].every((value) => typeof value === 'string' && UUID.test(value))) {
      throw new AppException(HttpStatus.UNAUTHORIZED, 'TOKEN_INVALID', 'Invalid access token');
    }
    const principal = await this.sessions.principalForSession(claims.tid!, claims.sid!, 'api');
    if (!principal || principal.userId !== claims.sub) throw new AppException(HttpStatus.UNAUTHORIZED, 'SESSION_ENDED', 'This sign-in has ended; sign in again');
    return principal;
  }
}

/** Authenticates `Authorization: Bearer <access JWT>`; usable alone with @UseGuards too. */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  override handleRequest<T>(error: unknown, principal: T, info: unknown): T {
    if (error) throw error;
    if (!principal) {
      const expired = (info as { name?: string } | undefined)?.name === 'TokenExpiredError';
      throw new AppException(HttpStatus.UNAUTHORIZED, expired ? 'TOKEN_EXPIRED' : 'TOKEN_INVALID', expired ? 'Access token expired; refresh it' : 'Invalid access token');
    }
    return principal;
  }
}
