import { Type } from '@nestjs/common';
import { ApplicationConfig, DiscoveryService, NestFactory, Reflector } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { AppConfig } from './config/app-config';
import { AppModule } from './app.module';
import { DatabaseTarget } from './database/data-source.factory';
import { cookieNames, registerWeb } from './dashboard/web';
import { SECURITY_SCHEMES } from './common/auth/access.decorators';
import { ProblemDto } from './common/http/problem.dto';
import { ErrorPage, ProblemExceptionFilter } from './common/http/exception.filter';
import { PageRenderer } from './dashboard/pages';
import { REQUEST_ID_HEADER, requestIdFor } from './common/http/request-id';
import { registerDirectRoutes } from './common/http/direct-route';
import { AccessGuard } from './common/auth/access.guard';
import { createValidationPipe, depthLimitedJsonParser, FORM, pageFormParser } from './common/http/validation';
import { LazyRequestLogger, NestPinoLogger } from './common/logging/logger';
import { RequestLogController } from './common/logging/request-log.controller';
import { Metrics } from './metrics/metrics.service';

export interface CreateAppOptions {
  logger: Logger;
  database?: DatabaseTarget;
  /** Extra modules (tests mount probe routes this way). */
  imports?: Type[];
}

/**
 * TRUST_PROXY for Fastify: request.ip becomes the client the trusted proxies saw. Fastify reads
 * a bare number as "trust nothing" (a hop count cannot tell the proxy from a direct client), so
 * a hop count is passed as the function it means: believe the nearest `hops` addresses.
 */
function trustedProxies(trust: number | string[] | undefined) {
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust;
  return trust ?? false;
}

/** Builds the whole application; main.ts and the e2e tests share it. */
export async function createApp(
  config: AppConfig,
  { logger, database, imports }: CreateAppOptions,
): Promise<NestFastifyApplication> {
  const requestLog = new RequestLogController();
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimit,
    trustProxy: trustedProxies(config.trustProxy),
    genReqId: requestIdFor,
    requestIdHeader: false,
    logController: requestLog,
    loggerInstance: logger,
    childLoggerFactory: LazyRequestLogger.factory,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: false, maxParamLength: 200 },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, database, imports), adapter, {
    logger: new NestPinoLogger(logger),
    bufferLogs: false,
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  app.useBodyParser('application/json', { bodyLimit: config.bodyLimit }, depthLimitedJsonParser(fastify));
  app.useBodyParser(FORM, { bodyLimit: config.bodyLimit }, pageFormParser);
  const webRequestStep = await registerWeb(app, config);
  // Before app.init registers the routes: the hottest ones are called by Fastify directly.
  const problems = new ProblemExceptionFilter();
  const controllers = app.get(DiscoveryService).getControllers();
  // Nest keeps its global enhancers on the application; not public API, so missing means refuse.
  const enhancers = (app as unknown as { config?: ApplicationConfig }).config;
  registerDirectRoutes(fastify, {
    resolve: (type) => {
      const wrapper = controllers.find((candidate) => candidate.metatype === type);
      if (!wrapper?.isDependencyTreeStatic())
        throw new Error(`${type.name} is request-scoped: it cannot serve a direct route`);
      return wrapper.instance as never;
    },
    access: app.get(AccessGuard),
    filter: problems,
    reflector: app.get(Reflector),
    globals: () => ({
      guards: [...(enhancers?.getGlobalGuards() ?? [null]), ...(enhancers?.getGlobalRequestGuards() ?? [])],
      interceptors: [
        ...(enhancers?.getGlobalInterceptors() ?? []),
        ...(enhancers?.getGlobalRequestInterceptors() ?? []),
      ],
      filters: [...(enhancers?.getGlobalFilters() ?? [null]), ...(enhancers?.getGlobalRequestFilters() ?? [])],
    }),
  });
  // Declared up front so every request object has the same shape (V8 keeps it fast).
  fastify.decorateRequest('principal', null);
  fastify.decorateRequest('apiKey', null);
  // The one onRequest hook: each hook Fastify runs costs every request about a microsecond.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    webRequestStep(request, reply, done);
  });
  const metrics = app.get(Metrics);
  // The route pattern, never the raw URL, so the series stay few.
  requestLog.onCompleted = (request, reply) =>
    metrics.observeRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime,
    );

  const pages = app.get(PageRenderer);
  fastify.decorate('errorPage', (request: FastifyRequest, reply: FastifyReply, page: ErrorPage) =>
    pages.renderError(request, reply, page),
  );
  app.useGlobalFilters(problems);
  app.useGlobalPipes(createValidationPipe());

  if (config.docsEnabled) {
    const document = SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Keyward')
        .setDescription('Accounts, sessions and API keys for multi-tenant services')
        .setVersion('1')
        .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, SECURITY_SCHEMES.jwt)
        .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, SECURITY_SCHEMES.apiKey)
        .addApiKey({ type: 'apiKey', in: 'header', name: 'x-admin-token' }, SECURITY_SCHEMES.adminToken)
        .addCookieAuth(
          cookieNames(config).session,
          { type: 'apiKey', in: 'cookie', description: 'Dashboard session (state-changing requests also need CSRF)' },
          SECURITY_SCHEMES.session,
        )
        .addServer('/')
        .setLicense('UNLICENSED', 'https://choosealicense.com/no-permission/')
        .build(),
      { extraModels: [ProblemDto] },
    );
    // Login takes email or its alias username: one of the two is required, which class decorators cannot say.
    Object.assign(document.components!.schemas!.LoginDto, {
      anyOf: [{ required: ['email', 'password'] }, { required: ['username', 'password'] }],
    });
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
  }
  return app;
}
