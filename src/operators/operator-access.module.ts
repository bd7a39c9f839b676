import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { OperatorCredential } from './operator.credential';
import { OperatorEventsService } from './operator-events.service';
import { OperatorSessionsService } from './operator-sessions.service';

/**
 * Operator sessions: what the global guard needs to admit operators and what the common sign-in
 * needs to start one; kept apart from OperatorsModule, which depends on the auth module.
 */
@Module({
  imports: [SessionsModule],
  providers: [OperatorSessionsService, OperatorEventsService, OperatorCredential],
  exports: [OperatorSessionsService, OperatorEventsService, OperatorCredential],
})
export class OperatorAccessModule {}
