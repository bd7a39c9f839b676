import { DynamicModule, Module, Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { join } from 'node:path';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { AccessModule } from './common/auth/access.module';
import { DatabaseModule } from './database/database.module';
import { DatabaseTarget } from './database/data-source.factory';
import { ForwardAuthModule } from './forward-auth/forward-auth.module';
import { HealthModule } from './health/health.module';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { IdentitiesModule } from './identities/identities.module';
import { IdempotencyModule } from './idempotency/idempotency.module';
import { MailModule } from './mail/mail.module';
import { MetricsModule } from './metrics/metrics.module';
import { PermissionsModule } from './permissions/permissions.module';
import { MfaModule } from './mfa/mfa.module';
import { OperatorsModule } from './operators/operators.module';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { TenantConfigModule } from './tenant-config/tenant-config.module';
import { TenantsModule } from './tenants/tenants.module';
import { UsageModule } from './usage/usage.module';
import { UsersModule } from './users/users.module';

@Module({})
export class AppModule {
  /** `database` overrides where data lives (tests use a per-file database). */
  static forRoot(config: AppConfig, database?: DatabaseTarget, extraImports: Type[] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(
          database ?? {
            url: config.databaseUrl,
            embeddedDir: join(config.dataDir, 'pglite'),
            poolSize: config.databasePoolSize,
          },
        ),
        DiscoveryModule,
        AccessModule,
        MetricsModule,
        HealthModule,
        AuditModule,
        MailModule,
        RateLimitModule,
        AuthModule,
        MfaModule,
        UsersModule,
        TenantsModule,
        OperatorsModule,
        ApiKeysModule,
        PermissionsModule,
        IdentitiesModule,
        TenantConfigModule,
        UsageModule,
        DashboardModule,
        IdempotencyModule,
        ForwardAuthModule,
        ...extraImports,
      ],
    };
  }
}
