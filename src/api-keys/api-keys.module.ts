import { Module, OnModuleInit } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { Authenticators } from '../common/auth/authenticators';
import { ApiKeyGuard } from './api-key.guard';
import { AdminApiKeysController, ApiKeysController, CliApiKeysController, VerifyKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyVerifier } from './api-key-verifier.service';
import { KEY_CACHE_PROVIDER } from './key-cache';
import { KeyUsageService } from './key-usage.service';

@Module({
  imports: [AuditModule, InvalidationModule],
  controllers: [ApiKeysController, CliApiKeysController, AdminApiKeysController, VerifyKeysController],
  providers: [ApiKeysService, ApiKeyVerifier, ApiKeyGuard, KEY_CACHE_PROVIDER, KeyUsageService],
  // AuditModule too: a module that applies ApiKeyGuard with @UseGuards resolves its KeyDenialsService.
  exports: [ApiKeysService, ApiKeyVerifier, ApiKeyGuard, KeyUsageService, AuditModule],
})
export class ApiKeysModule implements OnModuleInit {
  constructor(
    private readonly authenticators: Authenticators,
    private readonly guard: ApiKeyGuard,
  ) {}

  onModuleInit(): void {
    this.authenticators.register('apiKey', (context) => this.guard.authenticate(context));
  }
}
