import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { SessionsService } from './sessions.service';

@Module({ imports: [AuditModule, InvalidationModule], providers: [SessionsService], exports: [SessionsService] })
export class SessionsModule {}
