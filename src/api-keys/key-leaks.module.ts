import { Body, Controller, HttpCode, HttpStatus, Ip, Module, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth/access.decorators';
import { ReportLeakDto } from './dto/api-keys.dto';
import { ApiKeysModule } from './api-keys.module';
import { KeyLeaksService } from './key-leaks.service';

@ApiTags('api-keys')
@Controller('v1/keys')
export class KeyLeaksController {
  constructor(private readonly leaks: KeyLeaksService) {}

  @Post('report-leak')
  @Public()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Report a key found in public; a valid one is revoked at once (same answer either way)' })
  reportLeakedKey(@Body() dto: ReportLeakDto, @Ip() ip: string) {
    return this.leaks.reportLeak(dto, ip);
  }
}

/** Leak reports: a public route that revokes a key found in public and tells its people. */
@Module({
  imports: [ApiKeysModule],
  controllers: [KeyLeaksController],
  providers: [KeyLeaksService],
})
export class KeyLeaksModule {}
