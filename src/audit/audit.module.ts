import { Module } from '@nestjs/common';
import { AdminAuditController, AuditController } from './audit.controller';
import { AuditService } from './audit.service';
import { KeyDenialsService } from './key-denials.service';

@Module({
  controllers: [AuditController, AdminAuditController],
  providers: [AuditService, KeyDenialsService],
  exports: [AuditService, KeyDenialsService],
})
export class AuditModule {}
