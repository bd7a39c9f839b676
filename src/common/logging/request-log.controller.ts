import { LogController } from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

/**
 * One line per request, written when the response is done. Headers are included and the
 * sensitive ones censored by the logger's redact configuration (see REDACTED_PATHS).
 */
export class RequestLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'requestId' });
  }

  override incomingRequest(): void {}

  override routeNotFound(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // Building the line costs more than many routes: skip it when nothing would be written.
    if (!(reply.log as unknown as Logger).isLevelEnabled(error ? 'error' : 'info')) return;
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      ip: request.ip,
      tenantId: request.principal?.tenantId,
      apiKeyId: request.principal?.apiKeyId,
      headers: request.headers,
      responseHeaders: reply.getHeaders(),
    };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    else reply.log.info(line, 'request');
  }
}
