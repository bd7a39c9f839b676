import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { MfaModule } from '../mfa/mfa.module';
import { OperatorsModule } from '../operators/operators.module';
import { TenantsModule } from '../tenants/tenants.module';
import { SessionsModule } from '../sessions/sessions.module';
import { TenantConfigModule } from '../tenant-config/tenant-config.module';
import { UsageModule } from '../usage/usage.module';
import { UsersModule } from '../users/users.module';
import { AuditPagesController, ConfigPagesController, UsersPagesController } from './admin-pages.controller';
import { AuthPagesController } from './auth-pages.controller';
import { DashboardController } from './dashboard.controller';
import { HomeController } from './home.controller';
import { KeysPagesController } from './keys-pages.controller';
import { MfaSignInPagesController } from './mfa-sign-in-pages.controller';
import { SecurityPagesController } from './security-pages.controller';
import { OperatorConsoleService } from './operator-console.service';
import { OperatorPagesController } from './operator-pages.controller';
import { CsrfGuard, PageRenderer } from './pages';

@Module({
  imports: [
    AuthModule,
    MfaModule,
    SessionsModule,
    ApiKeysModule,
    UsersModule,
    TenantConfigModule,
    AuditModule,
    UsageModule,
    TenantsModule,
    OperatorsModule,
  ],
  controllers: [
    HomeController,
    AuthPagesController,
    DashboardController,
    KeysPagesController,
    UsersPagesController,
    ConfigPagesController,
    AuditPagesController,
    SecurityPagesController,
    MfaSignInPagesController,
    OperatorPagesController,
  ],
  providers: [PageRenderer, CsrfGuard, OperatorConsoleService],
})
export class DashboardModule {}
