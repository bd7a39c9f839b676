import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AuthModule } from '../auth/auth.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({ imports: [AuditModule, AuthModule, SessionsModule, ApiKeysModule], controllers: [UsersController], providers: [UsersService], exports: [UsersService] })
export class UsersModule {}
