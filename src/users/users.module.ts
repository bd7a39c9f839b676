import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { MfaModule } from '../mfa/mfa.module';
import { AuthModule } from '../auth/auth.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { PeopleModule } from '../people/people.module';
import { SessionsModule } from '../sessions/sessions.module';
import { UsersController } from './users.controller';
import { UsersService } from './users.service';

@Module({
  imports: [AuditModule, MfaModule, AuthModule, SessionsModule, InvalidationModule, PeopleModule],
  controllers: [UsersController],
  providers: [UsersService],
  exports: [UsersService],
})
export class UsersModule {}
