import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { PermissionsController, RolesController } from './permissions.controller';
import { PermissionsService } from './permissions.service';

@Module({
  imports: [AuditModule, InvalidationModule],
  controllers: [PermissionsController, RolesController],
  providers: [PermissionsService],
})
export class PermissionsModule {}
