import { Body, Controller, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminToken } from '../common/auth/access.decorators';
import { Client, ClientInfo } from '../common/http/client-info';
import { ApiProblems } from '../common/http/problem.dto';
import { BootstrapOperatorDto, OperatorResponse } from './operators.dto';
import { OperatorsService } from './operators.service';

@ApiTags('admin')
@Controller('admin/operators')
@AdminToken()
export class OperatorsController {
  constructor(private readonly operators: OperatorsService) {}

  @Post()
  @ApiOperation({
    summary: 'Create the first operator (once; later operators are added by operators in the console)',
    description:
      'Refused with 409 OPERATORS_EXIST once any operator exists, and with 403 ADMIN_TOKEN_RETIRED once ADMIN_TOKEN_RETIRED=true.',
  })
  @ApiCreatedResponse({ type: OperatorResponse })
  @ApiProblems(400, 409)
  bootstrapOperator(@Body() dto: BootstrapOperatorDto, @Client() client: ClientInfo) {
    return this.operators.bootstrap(dto, client);
  }
}
