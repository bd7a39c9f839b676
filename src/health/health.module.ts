import { Module } from '@nestjs/common';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { HealthController } from './health.controller';

@Module({ imports: [InvalidationModule], controllers: [HealthController] })
export class HealthModule {}
