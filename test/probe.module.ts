import { Body, Controller, Get, HttpStatus, Module, Post, UseGuards } from '@nestjs/common';
import { IsEmail, IsInt, IsString, Max, Min } from 'class-validator';
import { ApiKeyGuard } from '../src/common/auth/credentials/credential.guards';
import { ApiKeysModule } from '../src/api-keys/api-keys.module';
import { AdminToken, Authenticated, CurrentPrincipal, Public } from '../src/common/auth/access.decorators';
import { Principal } from '../src/common/auth/principal';
import { QueryFailedError } from 'typeorm';
import { AppException } from '../src/common/http/problem';

class ProbeBody {
  @IsEmail()
  email: string;

  @IsInt()
  @Min(1)
  @Max(10)
  count: number;

  @IsString()
  password: string;
}

/** Probe routes for testing the request pipeline itself; mounted only by tests. */
@Controller('probe')
export class ProbeController {
  static releaseSlow: () => void = () => undefined;
  private static slowArrived: () => void = () => undefined;

  /** Resolves once the next request to /probe/slow is waiting in its handler. */
  static whenSlowArrives(): Promise<void> {
    return new Promise((resolve) => (ProbeController.slowArrived = resolve));
  }

  @Post('echo')
  @Public()
  echo(@Body() body: ProbeBody) {
    return { email: body.email, count: body.count, countType: typeof body.count };
  }

  @Get('admin')
  @AdminToken()
  admin() {
    return { admin: true };
  }

  /** The named guard applied on its own, as another module would. */
  @Get('key-guard')
  @Public()
  @UseGuards(ApiKeyGuard)
  keyGuard(@CurrentPrincipal() principal: Principal) {
    return principal;
  }

  @Get('no-rule')
  noRule() {
    return { reached: true };
  }

  @Get('crash')
  @Public()
  crash() {
    throw new Error('secret internal detail');
  }

  /** An unexpected error inside a key-authenticated request (its error line names the key). */
  @Get('key-crash')
  @Authenticated({ via: ['apiKey'] })
  keyCrash() {
    throw new Error('secret internal detail');
  }

  @Get('query-error')
  @Public()
  queryError() {
    throw new QueryFailedError(
      'INSERT INTO refresh_tokens (token_hash) VALUES ($1)',
      ['probe-secret-parameter-value'],
      new Error('probe failure'),
    );
  }

  @Get('conflict')
  @Public()
  conflict() {
    throw new AppException(HttpStatus.CONFLICT, 'PROBE_CONFLICT', 'probe conflict');
  }

  @Get('busy')
  @Public()
  busy(): never {
    throw new AppException(HttpStatus.SERVICE_UNAVAILABLE, 'PROBE_BUSY', 'probe busy');
  }

  /** Answers only when the test calls ProbeController.releaseSlow(). */
  @Get('slow')
  @Public()
  async slow() {
    const released = new Promise<void>((resolve) => (ProbeController.releaseSlow = resolve));
    ProbeController.slowArrived();
    await released;
    return { slow: 'done' };
  }
}

@Module({ imports: [ApiKeysModule], controllers: [ProbeController] })
export class ProbeModule {}
