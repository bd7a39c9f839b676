import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { Problem } from './problem';

/** Any JSON value: object, array, string, number, boolean or null. */
export const ANY_JSON = {
  oneOf: [
    // OpenAPI 3.0 has no null type: null rides on the object branch.
    { type: 'object', additionalProperties: true, nullable: true },
    { type: 'array', items: {} },
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
  ],
};

/** The one error shape (see ProblemExceptionFilter), as the OpenAPI document names it. */
export class ProblemDto implements Problem {
  @ApiProperty({ example: 404, description: 'The HTTP status, repeated' })
  statusCode: number;

  @ApiProperty({ example: 'Not Found', description: 'The status text' })
  error: string;

  @ApiProperty({ example: 'API key not found', description: 'For people; may change' })
  message: string;

  @ApiPropertyOptional({ example: 'NOT_FOUND', description: 'For programs: stable, machine-readable' })
  code?: string;

  @ApiProperty({
    example: '0b6f3f52-8a7e-4a8e-9d2c-3f1e5c7a9b10',
    description: 'Also in the x-request-id header; quote it in bug reports',
  })
  requestId: string;

  @ApiPropertyOptional({
    description: 'More about the error (e.g. retryAfterSeconds, the failing fields)',
    ...ANY_JSON,
  })
  details?: unknown;
}

const WHY: Record<number, string> = {
  400: 'Invalid input (code VALIDATION_FAILED and others)',
  401: 'No credential, or one that is not valid (KEY_MISSING, KEY_NOT_FOUND, TOKEN_EXPIRED, ...)',
  403: 'Authenticated but not allowed (FORBIDDEN, INSUFFICIENT_SCOPE, KEY_DISABLED, ...)',
  404: 'Not found in the caller’s tenant',
  409: 'Conflicts with the current state',
  422: 'Idempotency-Key reused with a different request (IDEMPOTENCY_KEY_REUSED)',
  429: 'Rate limit or quota exhausted (RATE_LIMITED, QUOTA_EXCEEDED, TOO_MANY_ATTEMPTS); see Retry-After',
  503: 'Temporarily unavailable; see Retry-After',
};

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
};

/** Documents error responses, all with the shared ProblemDto body. */
export const ApiProblems = (...statuses: number[]) =>
  applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: WHY[status] ?? 'Error',
        type: ProblemDto,
        ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
      }),
    ),
  );
