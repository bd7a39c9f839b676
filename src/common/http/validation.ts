import { HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppException } from './problem';

interface FieldError {
  field: string;
  messages: string[];
}

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, messages: Object.values(error.constraints) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/** Whitelisting validation: unknown properties are refused (400), never silently dropped. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const details = flatten(errors);
      return new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', details.map((d) => d.messages.join(', ')).join('; ') || 'Invalid request', details);
    },
  });
}

/** Deepest nesting of objects and arrays a JSON body may have; no request needs more than a few. */
export const MAX_JSON_DEPTH = 32;

const OPEN = new Set([0x7b, 0x5b]); // { [
const CLOSE = new Set([0x7d, 0x5d]); // } ]

/**
 * True when the JSON text nests deeper than `max`, found by one pass over the bytes (strings
 * skipped) before anything parses it: validation and transformation recurse per level, and a
 * body nested thousands deep overflowed their stack (a 500).
 */
export function jsonNestsDeeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === 0x5c) i++; // backslash: skip the escaped character
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (OPEN.has(byte) && ++depth > max) return true;
    else if (CLOSE.has(byte)) depth--;
  }
  return false;
}

type BodyParserDone = (error: Error | null, body?: unknown) => void;

/** Fastify's own JSON parser (prototype poisoning refused) behind the depth check. */
export function depthLimitedJsonParser(fastify: FastifyInstance) {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  return (request: FastifyRequest, body: Buffer, done: BodyParserDone) => {
    if (jsonNestsDeeperThan(body, MAX_JSON_DEPTH)) {
      return done(new AppException(HttpStatus.BAD_REQUEST, 'JSON_TOO_DEEP', `The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep`));
    }
    parse(request, body as unknown as string, done as never);
  };
}
