import { Module } from '@nestjs/common';
import { InvalidationBus } from './invalidation.bus';

/** One bus per process: every module with an in-memory cache imports this one. */
@Module({ providers: [InvalidationBus], exports: [InvalidationBus] })
export class InvalidationModule {}
