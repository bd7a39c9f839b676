import { ExecutionContext, Module, OnModuleInit } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config';
import { Authenticators } from '../common/auth/authenticators';
import { Principal } from '../common/auth/principal';
import { InvalidationModule } from '../invalidation/invalidation.module';
import { SessionsModule } from '../sessions/sessions.module';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { AuthThrottleService } from './auth-throttle.service';
import { JwtAuthGuard, JwtStrategy } from './jwt.strategy';
import { OneTimeTokensService } from './one-time-tokens.service';
import { PasswordService } from './password.service';

@Module({
  imports: [
    AuditModule,
    PassportModule,
    SessionsModule,
    InvalidationModule,
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({ secret: config.jwtSecret, signOptions: { algorithm: 'HS256' }, verifyOptions: { algorithms: ['HS256'] } }),
    }),
  ],
  controllers: [AuthController],
  providers: [AuthService, PasswordService, AuthThrottleService, OneTimeTokensService, JwtStrategy, JwtAuthGuard],
  exports: [AuthService, PasswordService, OneTimeTokensService, JwtAuthGuard],
})
export class AuthModule implements OnModuleInit {
  constructor(
    private readonly authenticators: Authenticators,
    private readonly jwtGuard: JwtAuthGuard,
  ) {}

  onModuleInit(): void {
    this.authenticators.register('jwt', async (context: ExecutionContext) => {
      const request = context.switchToHttp().getRequest<FastifyRequest & { user?: Principal }>();
      const header = request.headers.authorization;
      if (typeof header !== 'string' || !/^bearer\s/i.test(header)) return null;
      await this.jwtGuard.canActivate(context);
      return request.user ?? null;
    });
  }
}
