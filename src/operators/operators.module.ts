import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { OperatorAccessModule } from './operator-access.module';
import { OperatorsController } from './operators.controller';
import { OperatorsService } from './operators.service';

@Module({
  imports: [AuthModule, OperatorAccessModule],
  controllers: [OperatorsController],
  providers: [OperatorsService],
  exports: [OperatorsService, OperatorAccessModule],
})
export class OperatorsModule {}
