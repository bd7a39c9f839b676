import { HttpStatus, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { AppConfig } from '../config/app-config';
import { Authenticators } from '../common/auth/authenticators';
import { AppException } from '../common/http/problem';
import { SessionsModule } from '../sessions/sessions.module';
import { SessionsService } from '../sessions/sessions.service';
import { TenantConfigModule } from '../tenant-config/tenant-config.module';
import { UsageModule } from '../usage/usage.module';
import { UsersModule } from '../users/users.module';
import { AuditPagesController, ConfigPagesController, UsersPagesController } from './admin-pages.controller';
import { AuthPagesController } from './auth-pages.controller';
import { DashboardController } from './dashboard.controller';
import { KeysPagesController } from './keys-pages.controller';
import { CsrfGuard, PageRenderer } from './pages';
import { assertCsrf, cookieNames } from './web';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

@Module({
  imports: [AuthModule, SessionsModule, ApiKeysModule, UsersModule, TenantConfigModule, AuditModule, UsageModule],
  controllers: [AuthPagesController, DashboardController, KeysPagesController, UsersPagesController, ConfigPagesController, AuditPagesController],
  providers: [PageRenderer, CsrfGuard],
})
export class DashboardModule implements OnModuleInit {
  constructor(
    private readonly authenticators: Authenticators,
    private readonly sessions: SessionsService,
    private readonly host: HttpAdapterHost,
    private readonly config: AppConfig,
  ) {}

  /**
   * The `session` credential: the dashboard cookie. A cookie that names no live session is
   * refused (pages send the browser to /login). Whatever the route, a request that changes
   * something with this cookie must also carry the CSRF token of this browser.
   */
  onModuleInit(): void {
    const name = cookieNames(this.config).session;
    this.authenticators.register('session', async (context) => {
      const request = context.switchToHttp().getRequest<FastifyRequest>();
      const token = request.cookies?.[name];
      if (!token) return null;
      const principal = await this.sessions.principalForDashboardToken(token);
      if (!principal) throw new AppException(HttpStatus.UNAUTHORIZED, 'SESSION_INVALID', 'The session has ended; sign in again');
      if (!SAFE_METHODS.has(request.method)) assertCsrf(this.host.httpAdapter.getInstance(), request);
      return principal;
    });
  }
}
