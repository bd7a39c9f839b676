import { CanActivate, ExecutionContext, HttpStatus, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ACCESS_RULE, AccessRule } from './access.decorators';
import { AdminTokenGuard } from './admin-token.guard';
import { Authenticators } from './authenticators';
import { MetricsTokenGuard } from './metrics-token.guard';
import { AppException } from '../http/problem';
import { Principal } from './principal';

type AuthenticatedRule = Extract<AccessRule, { type: 'authenticated' }>;

/**
 * The global guard. Closed by default: a route that declares no access rule is refused,
 * so forgetting a decorator can never expose a route.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger(AccessGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly adminTokenGuard: AdminTokenGuard,
    private readonly authenticators: Authenticators,
    private readonly metricsTokenGuard: MetricsTokenGuard,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [context.getHandler(), context.getClass()]);
    switch (rule?.type) {
      case 'public':
        return true;
      case 'adminToken':
        return this.adminTokenGuard.canActivate(context);
      case 'metricsToken':
        return this.metricsTokenGuard.canActivate(context);
      case 'authenticated':
        return this.authenticate(context, rule);
      default:
        this.logger.error(`route ${context.getClass().name}.${context.getHandler().name} declares no access rule; refused`);
        throw new AppException(HttpStatus.FORBIDDEN, 'ACCESS_RULE_MISSING', 'This route is not reachable');
    }
  }

  /** Tries each allowed credential in turn; stays synchronous while the authenticators do. */
  private authenticate(context: ExecutionContext, rule: AuthenticatedRule, from = 0): boolean | Promise<boolean> {
    for (let i = from; i < rule.via.length; i++) {
      const found = this.authenticators.get(rule.via[i])?.(context) ?? null;
      if (found instanceof Promise) return found.then((principal) => (principal ? this.admit(context, rule, principal) : this.authenticate(context, rule, i + 1)));
      if (found) return this.admit(context, rule, found);
    }
    if (rule.via.length === 1 && rule.via[0] === 'apiKey') throw new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MISSING', 'An x-api-key header is required');
    throw new AppException(HttpStatus.UNAUTHORIZED, 'UNAUTHENTICATED', `Authentication required (${rule.via.join(', ')})`);
  }

  private admit(context: ExecutionContext, rule: AuthenticatedRule, principal: Principal): true {
    context.switchToHttp().getRequest<FastifyRequest>().principal = principal;
    if (principal.kind === 'user' && rule.roles && !rule.roles.includes(principal.role!)) {
      throw new AppException(HttpStatus.FORBIDDEN, 'FORBIDDEN', 'Your role does not allow this');
    }
    const missing = rule.scopes?.filter((scope) => !principal.scopes.includes(scope));
    if (missing?.length) {
      throw new AppException(HttpStatus.FORBIDDEN, 'INSUFFICIENT_SCOPE', `Missing scope: ${missing.join(' ')}`, { requiredScopes: rule.scopes });
    }
    return true;
  }
}
