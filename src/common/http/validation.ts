import { ArgumentMetadata, HttpStatus, ValidationError, ValidationPipe } from '@nestjs/common';
import type { ValidatorOptions } from 'class-validator';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parse as parseQuery } from 'node:querystring';
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

type QuickCheck = (body: Record<string, unknown>) => boolean;
const quickChecks = new Map<unknown, QuickCheck>();

/**
 * A hand-written check for the body of a hot route, beside the class-validator decorators of its
 * DTO (which stay the rule). A body it accepts is taken as the DTO at once; anything it does not
 * accept goes through class-validator as every other body does, so every refusal is the same
 * 400 with the same messages. It must accept only bodies that class-validator would accept, with
 * no property that whitelisting would refuse.
 */
export function acceptQuickly(dto: new () => object, accepts: QuickCheck): void {
  quickChecks.set(dto, accepts);
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/**
 * The body as the DTO, validated as the global pipe does it, for a handler that takes only
 * @Req (a param that passes the pipes costs promises per request): at once when the DTO's
 * hand-written check accepts it, else through the pipe itself, with its 400s.
 */
export function bodyAs<T extends object>(dto: new () => T, body: unknown): T | Promise<T> {
  const accepts = quickChecks.get(dto);
  if (accepts && isPlainObject(body) && accepts(body)) return Object.assign(new dto(), body);
  return (bodyPipe ??= createValidationPipe()).transform(body, { type: 'body', metatype: dto }) as Promise<T>;
}
let bodyPipe: ValidationPipe | undefined;

/**
 * Validators that throw on what they were given instead of answering (validator's isEmail
 * runs encodeURI, which throws URIError on a lone surrogate; recursion on absurd nesting
 * throws RangeError) reject the input, as an invalid value would: 400, never 500.
 */
class InputSafeValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const accepts = metadata.type === 'body' ? quickChecks.get(metadata.metatype) : undefined;
    if (accepts && isPlainObject(value) && accepts(value)) {
      return Promise.resolve(Object.assign(new (metadata.metatype as new () => object)(), value));
    }
    return super.transform(value, metadata);
  }

  protected override async validate(object: object, options?: ValidatorOptions): Promise<ValidationError[]> {
    try {
      return await super.validate(object, options);
    } catch (error) {
      if (error instanceof URIError || error instanceof RangeError) {
        throw new AppException(
          HttpStatus.BAD_REQUEST,
          'VALIDATION_FAILED',
          'The request contains a value that cannot be validated (such as a lone surrogate)',
        );
      }
      throw error;
    }
  }
}

/** Whitelisting validation: unknown properties are refused (400), never silently dropped. */
export function createValidationPipe(): ValidationPipe {
  return new InputSafeValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const details = flatten(errors);
      return new AppException(
        HttpStatus.BAD_REQUEST,
        'VALIDATION_FAILED',
        details.map((d) => d.messages.join(', ')).join('; ') || 'Invalid request',
        details,
      );
    },
  });
}

/** Deepest nesting of objects and arrays a JSON body may have; no request needs more than a few. */
export const MAX_JSON_DEPTH = 32;

const OPEN = new Set([0x7b, 0x5b]); // { [
const CLOSE = new Set([0x7d, 0x5d]); // } ]

/**
 * One pass over the bytes of a JSON body before anything parses it. Finds nesting deeper than
 * `maxDepth` (validation and transformation recurse per level: thousands deep overflowed their
 * stack, a 500) and lone surrogate escapes (validators throw on them and PostgreSQL refuses
 * them in jsonb). Valid UTF-8 cannot hold a lone surrogate, so only `\uXXXX` escapes can.
 */
export function checkJsonText(body: Buffer, maxDepth: number): 'too-deep' | 'lone-surrogate' | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === 0x22) inString = false;
      else if (byte !== 0x5c) continue;
      else if (body[i + 1] !== 0x75)
        i++; // \n, \" …: skip the escaped character
      else {
        // \uXXXX: a high surrogate must be followed by a low one, a low one never stands alone.
        const unit = surrogateAt(body, i);
        if (unit === 'low' || (unit === 'high' && surrogateAt(body, i + 6) !== 'low')) return 'lone-surrogate';
        i += unit === 'high' ? 11 : 5;
      }
    } else if (byte === 0x22) inString = true;
    else if (OPEN.has(byte) && ++depth > maxDepth) return 'too-deep';
    else if (CLOSE.has(byte)) depth--;
  }
  return undefined;
}

/** Whether the `\uXXXX` escape at `at` is a high or low UTF-16 surrogate. */
function surrogateAt(body: Buffer, at: number): 'high' | 'low' | undefined {
  if (body[at] !== 0x5c || body[at + 1] !== 0x75) return undefined;
  const unit = Number.parseInt(body.toString('latin1', at + 2, at + 6), 16);
  if (unit >= 0xd800 && unit <= 0xdbff) return 'high';
  return unit >= 0xdc00 && unit <= 0xdfff ? 'low' : undefined;
}

type BodyParserDone = (error: Error | null, body?: unknown) => void;

/** Fastify's own JSON parser (prototype poisoning refused) behind the depth check. */
export function depthLimitedJsonParser(fastify: FastifyInstance) {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  return (request: FastifyRequest, body: Buffer, done: BodyParserDone) => {
    const problem = checkJsonText(body, MAX_JSON_DEPTH);
    if (problem === 'too-deep') {
      return done(
        new AppException(
          HttpStatus.BAD_REQUEST,
          'JSON_TOO_DEEP',
          `The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep`,
        ),
      );
    }
    if (problem === 'lone-surrogate') {
      return done(
        new AppException(
          HttpStatus.BAD_REQUEST,
          'INVALID_CHARACTERS',
          'The JSON body contains a lone UTF-16 surrogate (\\uD800-\\uDFFF without its pair)',
        ),
      );
    }
    parse(
      request,
      body as unknown as string,
      ((error: (Error & { code?: string }) | null, parsed?: unknown) => {
        // Fastify refuses `__proto__` (and `constructor.prototype`) keys with the same message as
        // broken JSON; say which it was, since the text itself parses.
        if (error?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' && parsesAsJson(body)) {
          return done(
            new AppException(
              HttpStatus.BAD_REQUEST,
              'FORBIDDEN_PROPERTY',
              'The JSON body has a "__proto__" or "constructor.prototype" key, which is never accepted: rename or remove it',
            ),
          );
        }
        done(error, parsed);
      }) as never,
    );
  };
}

function parsesAsJson(body: Buffer): boolean {
  try {
    JSON.parse(body.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

export const FORM = 'application/x-www-form-urlencoded';

/**
 * Form bodies, for the dashboard's pages only. The JSON API takes JSON: `curl -d '{"name":"a"}'`
 * without a content-type sends a form, which would be parsed into one strange property and
 * refused as "should not exist"; answer 415 with what to send instead. Decided here, where a
 * form body is parsed, rather than in a hook that every JSON request would pay for. A
 * `__proto__` field is refused as in a JSON body.
 */
export function pageFormParser(request: FastifyRequest, body: Buffer, done: BodyParserDone) {
  if (!request.routeOptions.config?.kind && !request.is404) {
    return done(
      new AppException(
        HttpStatus.UNSUPPORTED_MEDIA_TYPE,
        'UNSUPPORTED_MEDIA_TYPE',
        `This endpoint takes a JSON body: send the header content-type: application/json (curl -H 'content-type: application/json'), not ${FORM}`,
      ),
    );
  }
  // node:querystring gives an object without a prototype, where `__proto__` is a plain key that
  // would replace the prototype of any object it is copied onto.
  // maxKeys 0: every field (node:querystring stops at 1,000 otherwise); the body limit bounds them.
  const fields = parseQuery(body.toString('utf8'), '&', '=', { maxKeys: 0 });
  if (Object.hasOwn(fields, '__proto__')) {
    return done(new AppException(HttpStatus.BAD_REQUEST, 'FORBIDDEN_PROPERTY', 'The form has a "__proto__" field'));
  }
  done(null, fields);
}
