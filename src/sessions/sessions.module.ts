import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { SessionsService } from './sessions.service';

@Module({ imports: [AuditModule], providers: [SessionsService], exports: [SessionsService] })
export class SessionsModule {}
