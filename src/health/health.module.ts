import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { HealthController } from './health.controller';

@Module({ imports: [ApiKeysModule], controllers: [HealthController] })
export class HealthModule {}
