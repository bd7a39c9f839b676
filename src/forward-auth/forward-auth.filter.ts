import { ArgumentsHost, Catch, HttpException, HttpStatus } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProblemExceptionFilter } from '../common/http/exception.filter';
import { AppException } from '../common/http/problem';

export const CODE_HEADER = 'x-keyward-code';
export const STATUS_HEADER = 'x-keyward-status';
export const PROXY_HEADER = 'x-keyward-proxy';

/**
 * Refusals of forward-auth carry their code and intended status in headers a proxy can copy.
 * nginx `auth_request` turns any answer but 2xx, 401 and 403 into a 500, so when the proxy says
 * it is nginx (`?proxy=nginx` or `X-Keyward-Proxy: nginx`) a 429 is answered as 403 with
 * `X-Keyward-Status: 429` and its Retry-After, for the proxy's `error_page` to pass on as 429.
 * Proxies that pass statuses through (Caddy, Traefik, Envoy) get the 429 itself.
 */
@Catch()
export class ForwardAuthFilter extends ProblemExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    if (!(exception instanceof HttpException)) return super.catch(exception, host);
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const status = exception.getStatus();
    const code = exception instanceof AppException ? exception.code : undefined;
    if (code) reply.header(CODE_HEADER, code);
    reply.header(STATUS_HEADER, String(status));
    if (status === HttpStatus.TOO_MANY_REQUESTS && isNginx(request)) {
      return super.catch(
        new AppException(
          HttpStatus.FORBIDDEN,
          code ?? 'RATE_LIMITED',
          exception.message,
          (exception as AppException).details,
        ),
        host,
      );
    }
    super.catch(exception, host);
  }
}

function isNginx(request: FastifyRequest): boolean {
  return (
    (request.query as { proxy?: unknown } | undefined)?.proxy === 'nginx' || request.headers[PROXY_HEADER] === 'nginx'
  );
}
