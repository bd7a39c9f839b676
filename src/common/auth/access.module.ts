import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccessGuard } from './access.guard';
import { AdminTokenGuard } from './admin-token.guard';
import { Authenticators } from './authenticators';
import { MetricsTokenGuard } from './metrics-token.guard';
import { Clock } from '../clock';

/** The global closed-by-default guard and the credential guards every module may reuse. */
@Global()
@Module({
  providers: [AdminTokenGuard, MetricsTokenGuard, Authenticators, Clock, { provide: APP_GUARD, useClass: AccessGuard }],
  exports: [AdminTokenGuard, Authenticators, Clock],
})
export class AccessModule {}
