import { Module, OnModuleInit } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { Authenticators } from '../common/auth/authenticators';
import { ApiKeyGuard } from './api-key.guard';
import { AdminApiKeysController, ApiKeysController, CliApiKeysController, VerifyKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyVerifier } from './api-key-verifier.service';
import { KeyEventsService } from './key-events.service';
import { KeyUsageService } from './key-usage.service';

@Module({
  imports: [AuditModule],
  controllers: [ApiKeysController, CliApiKeysController, AdminApiKeysController, VerifyKeysController],
  providers: [ApiKeysService, ApiKeyVerifier, ApiKeyGuard, KeyEventsService, KeyUsageService],
  // AuditModule too: a module that applies ApiKeyGuard with @UseGuards resolves its KeyDenialsService.
  exports: [ApiKeysService, ApiKeyVerifier, ApiKeyGuard, KeyEventsService, KeyUsageService, AuditModule],
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
