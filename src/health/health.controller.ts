import { Controller, Get, HttpStatus } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { InvalidationBus } from '../invalidation/invalidation.bus';
import { DEAF_CACHE_TTL_MS } from '../invalidation/listener-heartbeat';
import { Public } from '../common/auth/access.decorators';
import { AppException } from '../common/http/problem';
import { DatabaseHealth } from '../database/database.health';
import { ApiOkResponse } from '@nestjs/swagger';
import { ApiProblems } from '../common/http/problem.dto';
import { HealthResponse, ReadinessResponse } from './dto/health-responses.dto';
import { Direct } from '../common/http/direct-route';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly database: DatabaseHealth,
    private readonly invalidations: InvalidationBus,
  ) {}

  @Get('health')
  @Public()
  @Direct()
  @ApiOperation({ summary: 'Liveness: the process answers (no database work)' })
  @ApiOkResponse({ type: HealthResponse })
  health() {
    return { status: 'ok' };
  }

  /**
   * A deaf change listener degrades readiness but does not fail it: the instance still
   * answers correctly, only changes made elsewhere arrive up to DEAF_CACHE_TTL_MS late. Its
   * cause (LISTEN through a transaction pooler) is shared by every replica, so a 503 would
   * take all of them out of the load balancer at once and turn stale-by-2-s into an outage.
   */
  @Get('ready')
  @Public()
  @ApiOperation({
    summary: 'Readiness: the database answers (200 "degraded" while changes from other instances are not heard)',
  })
  @ApiOkResponse({ type: ReadinessResponse })
  @ApiProblems(503)
  async ready() {
    if (!(await this.database.ping()))
      throw new AppException(HttpStatus.SERVICE_UNAVAILABLE, 'DATABASE_UNAVAILABLE', 'The database is not reachable');
    if (this.invalidations.listenerState === 'deaf') {
      return {
        status: 'degraded',
        degraded: [
          {
            check: 'changeListener',
            code: 'LISTENER_DEAF',
            message: `LISTEN hears no NOTIFY (is DATABASE_LISTEN_URL a direct connection?); changes from other instances arrive within ${DEAF_CACHE_TTL_MS / 1000} s, by cache expiry`,
          },
        ],
      };
    }
    return { status: 'ready' };
  }
}
