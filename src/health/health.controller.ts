import { Controller, Get, HttpStatus } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth/access.decorators';
import { AppException } from '../common/http/problem';
import { DatabaseHealth } from '../database/database.health';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(private readonly database: DatabaseHealth) {}

  @Get('health')
  @Public()
  @ApiOperation({ summary: 'Liveness: the process answers (no database work)' })
  health() {
    return { status: 'ok' };
  }

  @Get('ready')
  @Public()
  @ApiOperation({ summary: 'Readiness: the database answers' })
  async ready() {
    if (!(await this.database.ping())) throw new AppException(HttpStatus.SERVICE_UNAVAILABLE, 'DATABASE_UNAVAILABLE', 'The database is not reachable');
    return { status: 'ready' };
  }
}
