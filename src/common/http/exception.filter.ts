import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { invalidInput, isDatabaseUnavailable } from './database-errors';
import { isHtmlPage } from './page-paths';
import { AppException, Problem } from './problem';

/** What the HTML error page shows. */
export interface ErrorPage {
  title: string;
  message: string;
  status: number;
  requestId: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Renders the error page in the dashboard's layout (navigation when signed in); set by createApp. */
    errorPage?(request: FastifyRequest, reply: FastifyReply, page: ErrorPage): Promise<void>;
  }
}

/**
 * Page wording for errors the framework raised (the router's "Cannot GET /x", a pipe's
 * "Validation failed (uuid is expected)", Fastify's body errors): their text is for developers.
 * Errors raised by our own code (AppException) already speak to people and keep their message.
 */
const PAGE_WORDING: Record<number, { title: string; message: string }> = {
  400: {
    title: 'Request not accepted',
    message: 'This page could not use what the link or the form sent. Go back and try again.',
  },
  404: {
    title: 'Page not found',
    message: 'There is no page at this address. Check the link, or start again from the dashboard.',
  },
  405: { title: 'Request not accepted', message: 'This address does not take that kind of request.' },
  413: { title: 'Request not accepted', message: 'What was sent is too large for this page.' },
  415: { title: 'Request not accepted', message: 'This page cannot read what was sent.' },
};

/** A pipe's refusal of a path parameter (`:id` that is no UUID): on a page, the page does not exist. */
const PARAM_PIPE_MESSAGE = /^Validation failed \(.+ is expected\)$/;

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
    if (isHtmlPage(request)) return this.page(request, reply, problem, exception instanceof AppException);
    const retryAfter = (problem.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
    if (retryAfter) reply.header('retry-after', String(retryAfter));
    else if (problem.statusCode === 503) reply.header('retry-after', '5');
    reply.status(problem.statusCode).header('content-type', 'application/json; charset=utf-8').send(problem);
  }

  /**
   * Pages: a sign-in is needed → /login; a second factor to add first → the security page; a
   * fresh factor needed → the re-verify page, which comes back here (or, after a form post, to
   * the page the form was on); anything else → an HTML error page in people's words.
   */
  private page(request: FastifyRequest, reply: FastifyReply, problem: Problem, ours: boolean): void {
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
    const status =
      !ours && problem.statusCode === HttpStatus.BAD_REQUEST && PARAM_PIPE_MESSAGE.test(problem.message)
        ? HttpStatus.NOT_FOUND
        : problem.statusCode;
    const wording = ours ? undefined : PAGE_WORDING[status];
    const titles: Record<number, string> = { 403: 'Not allowed', 404: 'Not found', 429: 'Too many requests' };
    const title = wording?.title ?? titles[status] ?? (status >= 500 ? 'Something went wrong' : 'Request not accepted');
    const message =
      status === 403 && problem.code !== 'CSRF_INVALID'
        ? 'Your role does not allow you to see this page.'
        : (wording?.message ?? problem.message);
    const page: ErrorPage = { title, status, message, requestId: problem.requestId };
    reply.status(status).header('cache-control', 'no-store');
    const render = reply.server.errorPage;
    if (!render) return void reply.view('error', page);
    render(request, reply, page).catch((error: unknown) => {
      this.logger.error({ requestId: request.id, err: error, msg: 'error page failed' });
      if (!reply.sent) void reply.view('error', page);
    });
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
