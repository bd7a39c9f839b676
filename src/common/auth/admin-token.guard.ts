import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../../config/app-config';
import { safeEqual } from '../crypto/constant-time';
import { AppException } from '../http/problem';
import { ADMIN_PRINCIPAL } from './principal';

export const ADMIN_TOKEN_HEADER = 'x-admin-token';

/**
 * Lets the operator in when `x-admin-token` equals ADMIN_TOKEN (compared in constant time),
 * until ADMIN_TOKEN_RETIRED says the token is retired.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const expected = this.config.adminToken;
    if (this.config.adminTokenRetired)
      throw new AppException(
        HttpStatus.FORBIDDEN,
        'ADMIN_TOKEN_RETIRED',
        'ADMIN_TOKEN is retired (ADMIN_TOKEN_RETIRED=true): operators work in the console at /operator',
      );
    if (!expected)
      throw new AppException(
        HttpStatus.FORBIDDEN,
        'ADMIN_DISABLED',
        'Admin routes are disabled: ADMIN_TOKEN is not set',
      );
    const given = request.headers[ADMIN_TOKEN_HEADER];
    if (typeof given !== 'string' || !safeEqual(given, expected)) {
      throw new AppException(HttpStatus.UNAUTHORIZED, 'ADMIN_TOKEN_INVALID', 'Missing or invalid x-admin-token');
    }
    request.principal = ADMIN_PRINCIPAL;
    return true;
  }
}
