import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

export interface ClientInfo {
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

/** The caller's address, user agent and request id, for sessions, brute-force limits and the audit trail. */
export const Client = createParamDecorator((_: unknown, context: ExecutionContext): ClientInfo => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip,
    userAgent: typeof userAgent === 'string' ? userAgent : undefined,
    requestId: String(request.id),
  };
});
