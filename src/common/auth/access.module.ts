import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ApiKeysModule } from '../../api-keys/api-keys.module';
import { JWT_ALGORITHM } from '../../auth/access-token';
import { AppConfig } from '../../config/app-config';
import { OperatorAccessModule } from '../../operators/operator-access.module';
import { SessionsModule } from '../../sessions/sessions.module';
import { Clock } from '../clock';
import { AccessGuard, CREDENTIAL_ORDER } from './access.guard';
import { AdminTokenGuard } from './admin-token.guard';
import { ApiKeyCredential } from './credentials/api-key.credential';
import { Credential, CREDENTIALS } from './credentials/credential';
import { ApiKeyGuard, JwtAuthGuard } from './credentials/credential.guards';
import { JwtCredential } from './credentials/jwt.credential';
import { SessionCredential } from './credentials/session.credential';
import { MetricsTokenGuard } from './metrics-token.guard';

/** The global closed-by-default guard, its credentials, and the named guards every module may reuse. */
@Global()
@Module({
  imports: [
    ApiKeysModule,
    SessionsModule,
    OperatorAccessModule,
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        secret: config.jwtSecret,
        signOptions: { algorithm: JWT_ALGORITHM },
        verifyOptions: { algorithms: [JWT_ALGORITHM] },
      }),
    }),
  ],
  providers: [
    Clock,
    AdminTokenGuard,
    MetricsTokenGuard,
    ApiKeyCredential,
    JwtCredential,
    SessionCredential,
    { provide: CREDENTIALS, inject: [...CREDENTIAL_ORDER], useFactory: (...credentials: Credential[]) => credentials },
    ApiKeyGuard,
    JwtAuthGuard,
    AccessGuard,
    { provide: APP_GUARD, useExisting: AccessGuard },
  ],
  exports: [Clock, AccessGuard, AdminTokenGuard, ApiKeyGuard, JwtAuthGuard, ApiKeyCredential, JwtCredential, JwtModule],
})
export class AccessModule {}
