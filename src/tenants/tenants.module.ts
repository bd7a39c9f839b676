import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { AdminTenantsController } from './admin-tenants.controller';
import { TenantsService } from './tenants.service';

@Module({ imports: [AuditModule, SessionsModule, UsersModule, ApiKeysModule], controllers: [AdminTenantsController], providers: [TenantsService], exports: [TenantsService] })
export class TenantsModule {}
