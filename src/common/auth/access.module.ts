import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccessGuard } from './access.guard';
import { AdminTokenGuard } from './admin-token.guard';

/** The global closed-by-default guard and the credential guards every module may reuse. */
@Global()
@Module({
  providers: [AdminTokenGuard, { provide: APP_GUARD, useClass: AccessGuard }],
  exports: [AdminTokenGuard],
})
export class AccessModule {}
