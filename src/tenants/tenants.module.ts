import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { UsersModule } from '../users/users.module';
import { AdminTenantsController } from './admin-tenants.controller';
import { TenantsService } from './tenants.service';

@Module({
  imports: [AuditModule, UsersModule, InvalidationModule],
  controllers: [AdminTenantsController],
  providers: [TenantsService],
  exports: [TenantsService],
})
export class TenantsModule {}
