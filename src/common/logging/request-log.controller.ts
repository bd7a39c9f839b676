import { LogController } from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

/**
 * The only request and response headers a log line carries. An allowlist, not a denylist: a
 * header nobody thought of (Referer with a token in its query, x-csrf-token, a proxy's
 * credential) stays out of the log until someone decides it is safe to write down.
 */
export const LOGGED_REQUEST_HEADERS = [
  'host',
  'user-agent',
  'content-type',
  'content-length',
  'accept',
  'if-none-match',
  'x-request-id',
  // The request a proxy asks forward-auth about (the URI without its query, as `location`).
  'x-forwarded-method',
  'x-forwarded-uri',
];
export const LOGGED_RESPONSE_HEADERS = ['content-type', 'content-length', 'etag', 'retry-after', 'location'];
const URL_HEADERS = new Set(['location', 'x-forwarded-uri']);

/** The allowlisted headers; a URL-valued header keeps its path but loses its query. */
export function loggableHeaders(headers: Record<string, unknown>, allowed: readonly string[]): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const name of allowed) {
    const value = headers[name];
    if (value === undefined) continue;
    kept[name] = URL_HEADERS.has(name) && typeof value === 'string' ? value.split(/[?#]/)[0] : value;
  }
  return kept;
}

/**
 * One line per request, written when the response is done, with allowlisted headers only; and
 * `onCompleted` (the request metrics), called here because Fastify calls this for every
 * finished response anyway, where an onResponse hook would cost each request a hook run.
 */
export class RequestLogController extends LogController {
  onCompleted?: (request: FastifyRequest, reply: FastifyReply) => void;

  constructor() {
    super({ requestIdLogLabel: 'requestId' });
  }

  override incomingRequest(): void {}

  override routeNotFound(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    this.onCompleted?.(request, reply);
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
      headers: loggableHeaders(request.headers, LOGGED_REQUEST_HEADERS),
      responseHeaders: loggableHeaders(reply.getHeaders(), LOGGED_RESPONSE_HEADERS),
    };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    else reply.log.info(line, 'request');
  }
}
