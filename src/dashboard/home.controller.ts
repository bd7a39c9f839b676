import { Controller, Get, HttpStatus, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppConfig } from '../config/app-config';
import { Public } from '../common/auth/access.decorators';
import { acceptsHtml } from '../common/http/page-paths';
import { cookieNames } from './web';

/**
 * The site's root. A browser is sent on to the dashboard when it holds a session cookie (which
 * sends a stale one on to /login) and to /login otherwise; an API client is told where things are.
 */
@ApiExcludeController()
@Controller()
export class HomeController {
  private readonly sessionCookie: string;
  private readonly links: Record<string, string>;

  constructor(config: AppConfig) {
    this.sessionCookie = cookieNames(config).session;
    this.links = { dashboard: '/dashboard', ...(config.docsEnabled ? { docs: '/docs' } : {}), health: '/health' };
  }

  @Get()
  @Public()
  home(@Req() request: FastifyRequest, @Res() reply: FastifyReply) {
    reply.header('vary', 'accept');
    if (acceptsHtml(request))
      return reply.redirect(request.cookies?.[this.sessionCookie] ? '/dashboard' : '/login', HttpStatus.SEE_OTHER);
    return reply.send({
      service: 'keyward',
      message: 'Keyward answers its API under /v1 and /auth; the dashboard is at /dashboard.',
      links: this.links,
    });
  }
}
