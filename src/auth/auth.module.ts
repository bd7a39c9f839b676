import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { MfaModule } from '../mfa/mfa.module';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { OperatorAccessModule } from '../operators/operator-access.module';
import { PeopleModule } from '../people/people.module';
import { SessionsModule } from '../sessions/sessions.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { AuthThrottleService } from './auth-throttle.service';
import { OneTimeTokensService } from './one-time-tokens.service';
import { PasswordService } from './password.service';

/** Sign-in, tokens and passwords. Access JWTs are checked by JwtCredential (common/auth). */
@Module({
  imports: [AuditModule, SessionsModule, InvalidationModule, PeopleModule, MfaModule, OperatorAccessModule],
  controllers: [AuthController],
  providers: [AuthService, PasswordService, AuthThrottleService, OneTimeTokensService],
  exports: [AuthService, PasswordService, OneTimeTokensService],
})
export class AuthModule {}
