import { Global, Module } from '@nestjs/common';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyService } from './idempotency.service';

/**
 * Idempotency-Key support for the routes marked `@Idempotent()`, which apply the interceptor
 * themselves: a global interceptor put an rxjs chain on every request, /health included.
 * Global so that every feature module's `@Idempotent()` routes can resolve it.
 */
@Global()
@Module({
  providers: [IdempotencyService, IdempotencyInterceptor],
  exports: [IdempotencyService, IdempotencyInterceptor],
})
export class IdempotencyModule {}
