/** Access JWTs: HS256 only, this issuer and audience, always with an expiry. */
export const JWT_ISSUER = 'keyward';
export const JWT_AUDIENCE = 'keyward-api';
export const JWT_ALGORITHM = 'HS256';

export interface AccessTokenClaims {
  sub: string;
  tid: string;
  sid: string;
  role: string;
  exp: number;
}
