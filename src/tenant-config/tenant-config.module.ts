import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { TenantConfigController } from './tenant-config.controller';
import { TenantConfigService } from './tenant-config.service';

@Module({
  imports: [AuditModule, InvalidationModule],
  controllers: [TenantConfigController],
  providers: [TenantConfigService],
  exports: [TenantConfigService],
})
export class TenantConfigModule {}
