import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersModule } from '../users/users.module';
import { AdminTenantsController } from './admin-tenants.controller';
import { TenantsService } from './tenants.service';

@Module({ imports: [SessionsModule, UsersModule, ApiKeysModule], controllers: [AdminTenantsController], providers: [TenantsService], exports: [TenantsService] })
export class TenantsModule {}
