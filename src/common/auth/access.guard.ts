import { CanActivate, ExecutionContext, HttpStatus, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ACCESS_RULE, AccessRule } from './access.decorators';
import { AdminTokenGuard } from './admin-token.guard';
import { AppException } from '../http/problem';

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
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [context.getHandler(), context.getClass()]);
    switch (rule?.type) {
      case 'public':
        return true;
      case 'adminToken':
        return this.adminTokenGuard.canActivate(context);
      case 'authenticated':
        // No user or key credentials exist yet; until they do, nothing passes.
        throw new AppException(HttpStatus.UNAUTHORIZED, 'UNAUTHENTICATED', 'Authentication required');
      default:
        this.logger.error(`route ${context.getClass().name}.${context.getHandler().name} declares no access rule; refused`);
        throw new AppException(HttpStatus.FORBIDDEN, 'ACCESS_RULE_MISSING', 'This route is not reachable');
    }
  }
}
