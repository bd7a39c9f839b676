import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AdminApiKeysController, ApiKeysController, CliApiKeysController, VerifyKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyVerifier } from './api-key-verifier.service';
import { KeyEventsService } from './key-events.service';
import { KeyLookupRepository } from './key-lookup.repository';
import { KeyUsageService } from './key-usage.service';

@Module({
  imports: [AuditModule],
  controllers: [ApiKeysController, CliApiKeysController, AdminApiKeysController, VerifyKeysController],
  providers: [ApiKeysService, ApiKeyVerifier, KeyLookupRepository, KeyEventsService, KeyUsageService],
  exports: [ApiKeysService, ApiKeyVerifier, KeyEventsService, KeyUsageService],
})
export class ApiKeysModule {}
