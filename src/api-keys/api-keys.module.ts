import { ExecutionContext, HttpStatus, Module, OnModuleInit } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Authenticators } from '../common/auth/authenticators';
import { AppException } from '../common/http/problem';
import { AdminApiKeysController, ApiKeysController, CliApiKeysController, VerifyKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { ApiKeyVerifier } from './api-key-verifier.service';
import { KeyEventsService } from './key-events.service';
import { KeyUsageService } from './key-usage.service';

export const API_KEY_HEADER = 'x-api-key';
const KEY_QUERY_PARAMETERS = ['api_key', 'apikey', 'apiKey', 'key', 'x-api-key', 'access_token'];

@Module({
  controllers: [ApiKeysController, CliApiKeysController, AdminApiKeysController, VerifyKeysController],
  providers: [ApiKeysService, ApiKeyVerifier, KeyEventsService, KeyUsageService],
  exports: [ApiKeysService, ApiKeyVerifier, KeyEventsService],
})
export class ApiKeysModule implements OnModuleInit {
  constructor(
    private readonly authenticators: Authenticators,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  onModuleInit(): void {
    this.authenticators.register('apiKey', async (context: ExecutionContext) => {
      const request = context.switchToHttp().getRequest<FastifyRequest>();
      const query = (request.query ?? {}) as Record<string, unknown>;
      // Keys in URLs end up in proxy logs and browser history: refuse them outright.
      if (KEY_QUERY_PARAMETERS.some((name) => name in query)) {
        throw new AppException(HttpStatus.BAD_REQUEST, 'KEY_IN_QUERY', 'Send the API key in the x-api-key header, never in the URL');
      }
      const header = request.headers[API_KEY_HEADER];
      if (header === undefined) return null;
      if (typeof header !== 'string' || header === '') throw new AppException(HttpStatus.UNAUTHORIZED, 'KEY_MALFORMED', 'This is not a valid API key');
      return this.verifier.authenticate(header, request.ip);
    });
  }
}
