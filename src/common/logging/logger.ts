import { LoggerService } from '@nestjs/common';
import type { FastifyBaseLogger } from 'fastify';
import pino, { Bindings, ChildLoggerOptions, Level, LevelWithSilent, LogFn, Logger, LoggerOptions } from 'pino';

/**
 * Paths pino censors before a line is written. Redaction is configuration, not something
 * each call site has to remember.
 */
export const REDACTED_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'headers["x-admin-token"]',
  'responseHeaders["set-cookie"]',
  // A failed query's bound values can be hashes, tokens or ciphertext.
  'err.parameters',
  'err.driverError.parameters',
  ...['password', 'currentPassword', 'newPassword', 'token', 'accessToken', 'refreshToken', 'secret', 'apiKey'].flatMap(
    (field) => [field, `*.${field}`, `*.*.${field}`],
  ),
];

export interface LogOptions {
  level: string;
  /** Human-readable output; only for a developer at a terminal. */
  pretty?: boolean;
  /** Where lines go; stdout by default. Tests pass a stream to read what was logged. */
  destination?: pino.DestinationStream;
}

export function createLogger({ level, pretty, destination }: LogOptions): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'keyward' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { singleLine: true } } });
  return pino(options);
}

/** Routes Nest's own log calls into pino so every line has the same structured shape. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}

  log(message: unknown, context?: string) {
    this.write('info', message, context);
  }
  error(message: unknown, traceOrContext?: string, context?: string) {
    const trace = context ? traceOrContext : undefined;
    this.write('error', message, context ?? traceOrContext, trace);
  }
  warn(message: unknown, context?: string) {
    this.write('warn', message, context);
  }
  debug(message: unknown, context?: string) {
    this.write('debug', message, context);
  }
  verbose(message: unknown, context?: string) {
    this.write('trace', message, context);
  }
  fatal(message: unknown, context?: string) {
    this.write('fatal', message, context);
  }

  private write(level: pino.Level, message: unknown, context?: string, stack?: string) {
    if (message instanceof Error) this.pino[level]({ context, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.pino[level]({ context, ...message });
    else this.pino[level]({ context, ...(stack ? { stack } : {}) }, String(message));
  }
}

/**
 * A request's logger, made only when the request writes a line. Fastify makes a child logger
 * per request with the request id bound to it; with redaction configured pino serializes and
 * redacts those bindings at once, which cost about a tenth of a whole /health request, for a
 * logger that a request answered without a line (the level is above `info`) never uses.
 */
export class LazyRequestLogger {
  private made?: Logger;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  /** Fastify's childLoggerFactory: lazy unless the route asks for options of its own (a level). */
  static factory(
    this: void,
    parent: FastifyBaseLogger,
    bindings: Bindings,
    options: ChildLoggerOptions,
  ): FastifyBaseLogger {
    if (Object.keys(options).length > 0) return parent.child(bindings, options);
    return new LazyRequestLogger(parent as Logger, bindings) as unknown as FastifyBaseLogger;
  }

  private get logger(): Logger {
    return (this.made ??= this.parent.child(this.bindings));
  }

  get level(): LevelWithSilent | string {
    return this.made?.level ?? this.parent.level;
  }
  set level(level: LevelWithSilent | string) {
    this.logger.level = level;
  }
  isLevelEnabled(level: LevelWithSilent | string): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.logger.child(bindings, options);
  }
  // Methods on the prototype, not arrow-function fields: one of these is made for every request.
  fatal(...args: Parameters<LogFn>): void {
    this.write('fatal', args);
  }
  error(...args: Parameters<LogFn>): void {
    this.write('error', args);
  }
  warn(...args: Parameters<LogFn>): void {
    this.write('warn', args);
  }
  info(...args: Parameters<LogFn>): void {
    this.write('info', args);
  }
  debug(...args: Parameters<LogFn>): void {
    this.write('debug', args);
  }
  trace(...args: Parameters<LogFn>): void {
    this.write('trace', args);
  }
  silent(): void {}

  /** A line below the level is dropped without making the child. */
  private write(level: Level, args: Parameters<LogFn>): void {
    if (!this.isLevelEnabled(level)) return;
    (this.logger[level] as (...line: unknown[]) => void)(...args);
  }
}
