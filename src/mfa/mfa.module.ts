import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthThrottleService } from '../auth/auth-throttle.service';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { FactorsService } from './factors.service';
import { MfaAudit } from './mfa-audit';
import { MfaChallengesService } from './mfa-challenges.service';
import { MfaController, MfaPolicyController } from './mfa.controller';
import { PeopleModule } from '../people/people.module';
import { MfaService } from './mfa.service';
import { MfaSignInService } from './mfa-sign-in.service';
import { SecondFactorService } from './second-factor.service';
import { StepUpService } from './step-up.service';

/**
 * Second factors (authenticator app, passkeys, recovery codes), the challenges of the steps
 * that use them, the tenant policy, and step-up. The sign-in itself stays in AuthModule, which
 * asks MfaSignInService for its second step.
 */
@Module({
  imports: [AuditModule, InvalidationModule, PeopleModule],
  controllers: [MfaController, MfaPolicyController],
  providers: [
    AuthThrottleService,
    FactorsService,
    MfaAudit,
    MfaChallengesService,
    MfaService,
    MfaSignInService,
    SecondFactorService,
    StepUpService,
  ],
  exports: [FactorsService, MfaService, MfaSignInService, StepUpService, MfaChallengesService],
})
export class MfaModule {}
