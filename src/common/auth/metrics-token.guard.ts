import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../../config/app-config';
import { safeEqual } from '../crypto/constant-time';
import { AppException } from '../http/problem';

/**
 * Lets a scraper in when `Authorization: Bearer <token>` equals METRICS_TOKEN (constant time).
 * No principal: the scraper is nobody in any tenant.
 */
@Injectable()
export class MetricsTokenGuard implements CanActivate {
  constructor(private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const expected = this.config.metricsToken;
    if (!expected)
      throw new AppException(
        HttpStatus.FORBIDDEN,
        'METRICS_DISABLED',
        'Metrics are disabled: METRICS_TOKEN is not set',
      );
    const header = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
    const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (given === undefined || !safeEqual(given, expected)) {
      throw new AppException(
        HttpStatus.UNAUTHORIZED,
        'METRICS_TOKEN_INVALID',
        'Missing or invalid metrics bearer token',
      );
    }
    return true;
  }
}
