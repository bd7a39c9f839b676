import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { invalidInput, isDatabaseUnavailable } from './database-errors';
import { isHtmlPage } from './page-paths';
import { Problem } from './problem';

/**
 * Turns every error into the one JSON shape. Client errors keep their message; anything
 * unexpected is logged once with the request id and answered with a generic 500.
 */
@Catch()
export class ProblemExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = this.toProblem(exception, String(request.id));
    if (problem.statusCode >= 500 && exception instanceof HttpException) {
      // A refusal the code chose (e.g. AUTH_BUSY under load): expected, and no stack to keep.
      this.logger.warn({ requestId: request.id, code: problem.code, msg: 'request refused' });
    } else if (problem.statusCode >= 500) {
      const { tenantId, apiKeyId } = request.principal ?? {};
      this.logger.error({
        requestId: request.id,
        tenantId,
        apiKeyId,
        err: exception,
        msg: problem.code === 'DATABASE_UNAVAILABLE' ? 'database unavailable' : 'unhandled error',
      });
    }
    if (reply.sent) return;
    if (isHtmlPage(request)) return this.page(reply, problem, request);
    const retryAfter = (problem.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    if (retryAfter) reply.header('retry-after', String(retryAfter));
    else if (problem.statusCode === 503) reply.header('retry-after', '5');
    reply.status(problem.statusCode).header('content-type', 'application/json; charset=utf-8').send(problem);
  }

  /**
   * Pages: a sign-in is needed → /login; a second factor to add first → the security page; a
   * fresh factor needed → the re-verify page, which comes back here (or, after a form post, to
   * the page the form was on); anything else → an HTML error page.
   */
  private page(reply: FastifyReply, problem: Problem, request: FastifyRequest): void {
    if (problem.statusCode === HttpStatus.UNAUTHORIZED) {
      reply.redirect('/login', HttpStatus.SEE_OTHER);
      return;
    }
    if (problem.code === 'MFA_ENROLMENT_REQUIRED') {
      reply.redirect('/dashboard/security?flash=mfa-required', HttpStatus.SEE_OTHER);
      return;
    }
    if (problem.code === 'STEP_UP_REQUIRED') {
      const back = request.method === 'GET' ? request.url : refererPath(request);
      reply.redirect(`/dashboard/step-up?next=${encodeURIComponent(back)}`, HttpStatus.SEE_OTHER);
      return;
    }
    const titles: Record<number, string> = { 403: 'Not allowed', 404: 'Not found', 429: 'Too many requests' };
    const title =
      titles[problem.statusCode] ?? (problem.statusCode >= 500 ? 'Something went wrong' : 'Request not accepted');
    const message =
      problem.statusCode === 403 && problem.code !== 'CSRF_INVALID'
        ? 'Your role does not allow you to see this page.'
        : problem.message;
    reply.status(problem.statusCode).header('cache-control', 'no-store');
    void reply.view('error', { title, status: problem.statusCode, message, requestId: problem.requestId });
  }

  private toProblem(exception: unknown, requestId: string): Problem {
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const body = exception.getResponse();
      const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : { message: body };
      const message = Array.isArray(fields.message)
        ? fields.message.join('; ')
        : String(fields.message ?? exception.message);
      return withoutUndefined({
        statusCode,
        error: STATUS_CODES[statusCode] ?? 'Error',
        message,
        code: typeof fields.code === 'string' ? fields.code : defaultCode(statusCode),
        requestId,
        details: fields.details,
      });
    }
    const fastifyError = exception as { statusCode?: number; code?: string; message?: string };
    if (
      typeof fastifyError?.statusCode === 'number' &&
      fastifyError.statusCode >= 400 &&
      fastifyError.statusCode < 500 &&
      fastifyError.code?.startsWith('FST_')
    ) {
      const statusCode = fastifyError.statusCode;
      return {
        statusCode,
        error: STATUS_CODES[statusCode] ?? 'Error',
        message: fastifyError.message ?? 'Bad request',
        code: fastifyCode(fastifyError.code, statusCode),
        requestId,
      };
    }
    if (isDatabaseUnavailable(exception)) {
      return {
        statusCode: 503,
        error: STATUS_CODES[503]!,
        message: 'The service is temporarily unavailable; retry shortly',
        code: 'DATABASE_UNAVAILABLE',
        requestId,
      };
    }
    const invalid = invalidInput(exception);
    if (invalid)
      return { statusCode: 400, error: STATUS_CODES[400]!, message: invalid.message, code: invalid.code, requestId };
    return {
      statusCode: 500,
      error: STATUS_CODES[500]!,
      message: 'Internal server error',
      code: 'INTERNAL_ERROR',
      requestId,
    };
  }
}

function defaultCode(status: number): string | undefined {
  const codes: Record<number, string> = {
    [HttpStatus.BAD_REQUEST]: 'BAD_REQUEST',
    [HttpStatus.UNAUTHORIZED]: 'UNAUTHORIZED',
    [HttpStatus.FORBIDDEN]: 'FORBIDDEN',
    [HttpStatus.NOT_FOUND]: 'NOT_FOUND',
    [HttpStatus.METHOD_NOT_ALLOWED]: 'METHOD_NOT_ALLOWED',
    [HttpStatus.CONFLICT]: 'CONFLICT',
    [HttpStatus.PAYLOAD_TOO_LARGE]: 'PAYLOAD_TOO_LARGE',
    [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: 'UNSUPPORTED_MEDIA_TYPE',
    [HttpStatus.TOO_MANY_REQUESTS]: 'RATE_LIMITED',
  };
  return codes[status];
}

function fastifyCode(code: string, status: number): string {
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'PAYLOAD_TOO_LARGE';
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'UNSUPPORTED_MEDIA_TYPE';
  if (code.startsWith('FST_ERR_CTP')) return 'INVALID_BODY';
  return defaultCode(status) ?? 'BAD_REQUEST';
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The dashboard path of the page a form was posted from (same origin only), else the overview. */
function refererPath(request: FastifyRequest): string {
  const referer = request.headers.referer;
  try {
    const url = new URL(String(referer), `http://${request.headers.host}`);
    if (url.host === request.headers.host && url.pathname.startsWith('/dashboard')) return url.pathname + url.search;
  } catch {
    // no or unreadable Referer
  }
  return '/dashboard';
}
