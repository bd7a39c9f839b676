import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { TenantConfigController } from './tenant-config.controller';
import { TenantConfigService } from './tenant-config.service';

@Module({ imports: [ApiKeysModule], controllers: [TenantConfigController], providers: [TenantConfigService], exports: [TenantConfigService] })
export class TenantConfigModule {}
