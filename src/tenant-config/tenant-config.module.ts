import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { TenantConfigController } from './tenant-config.controller';
import { TenantConfigService } from './tenant-config.service';

@Module({ imports: [AuditModule, ApiKeysModule], controllers: [TenantConfigController], providers: [TenantConfigService], exports: [TenantConfigService] })
export class TenantConfigModule {}
