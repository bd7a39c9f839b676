import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { MfaModule } from '../mfa/mfa.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import {
  AdminApiKeysController,
  ApiKeysController,
  CliApiKeysController,
  VerifyKeysController,
} from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyVerifier } from './api-key-verifier.service';
import { KEY_CACHE_PROVIDER } from './key-cache';
import { KeyLeaksService } from './key-leaks.service';
import { KeyLookupRepository } from './key-lookup.repository';
import { KeyUsageService } from './key-usage.service';

@Module({
  imports: [AuditModule, MfaModule, InvalidationModule],
  controllers: [ApiKeysController, CliApiKeysController, AdminApiKeysController, VerifyKeysController],
  providers: [
    ApiKeysService,
    KeyLeaksService,
    ApiKeyVerifier,
    KeyLookupRepository,
    KEY_CACHE_PROVIDER,
    KeyUsageService,
  ],
  exports: [ApiKeysService, ApiKeyVerifier, KeyUsageService],
})
export class ApiKeysModule {}
