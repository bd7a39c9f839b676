import { ApiProperty } from '@nestjs/swagger';
import { registerDecorator } from 'class-validator';

import { MAX_NAMED_LIMITS, NamedRateLimit, RATE_LIMIT_NAME, RateLimitSetting } from '../rate-limit.types';
import { IsIntBetween } from '../../common/validation/validators';

export type { RateLimitSetting } from '../rate-limit.types';

export class RateLimitDto implements RateLimitSetting {
  @ApiProperty({ example: 100 })
  @IsIntBetween(1, 1_000_000)
  limit: number;

  @ApiProperty({ example: 1 })
  @IsIntBetween(1, 86_400)
  windowSeconds: number;
}

export class NamedRateLimitDto extends RateLimitDto implements NamedRateLimit {
  @ApiProperty({
    example: 'expensive',
    pattern: RATE_LIMIT_NAME.source,
    description: '`default` is the key’s `rateLimit`',
  })
  name: string;
}

/** Why a value is not a list of named rate limits, or undefined when it is one. */
export function rateLimitListProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'must be an array of {name, limit, windowSeconds}';
  if (value.length > MAX_NAMED_LIMITS) return `may hold at most ${MAX_NAMED_LIMITS} limits`;
  const names = new Set<string>();
  for (const item of value) {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      return 'must be an array of {name, limit, windowSeconds}';
    const { name, limit, windowSeconds, ...rest } = item as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) return `has unknown fields: ${extra.join(', ')} (known: name, limit, windowSeconds)`;
    if (typeof name !== 'string' || !RATE_LIMIT_NAME.test(name))
      return 'names must be 1-32 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit';
    if (names.has(name)) return `names a limit twice: ${name}`;
    names.add(name);
    if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 1_000_000)
      return `limit of ${name} must be a whole number from 1 to 1000000`;
    if (!Number.isInteger(windowSeconds) || (windowSeconds as number) < 1 || (windowSeconds as number) > 86_400)
      return `windowSeconds of ${name} must be a whole number from 1 to 86400`;
  }
  return undefined;
}

/**
 * A list of named rate limits: at most MAX_NAMED_LIMITS, distinct valid names, whole-number
 * limits and windows. Checked as a whole, so the message names the one thing that is wrong.
 */
export function IsRateLimitList() {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isRateLimitList',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => rateLimitListProblem(value) === undefined,
        defaultMessage: (args) => `${propertyName} ${rateLimitListProblem(args?.value) ?? 'is invalid'}`,
      },
    });
}

/** The plain settings of a validated list, in the order given. */
export const namedLimitsOf = (list: readonly NamedRateLimit[]): NamedRateLimit[] =>
  list.map(({ name, limit, windowSeconds }) => ({ name, limit, windowSeconds }));

/** One limit a verify call spends, by name, and how many uses it counts for. */
export class RateLimitSpendDto {
  @ApiProperty({ example: 'expensive', pattern: RATE_LIMIT_NAME.source })
  name: string;

  @ApiProperty({
    required: false,
    example: 1,
    minimum: 0,
    maximum: 1_000_000,
    description: 'Default 1; 0 reads the limit without spending',
  })
  cost?: number;
}

/** Why a value is not a list of limits to spend, or undefined when it is one. */
export function rateLimitSpendProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'must be an array of {name, cost}';
  if (value.length > MAX_NAMED_LIMITS) return `may name at most ${MAX_NAMED_LIMITS} limits`;
  const names = new Set<string>();
  for (const item of value) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return 'must be an array of {name, cost}';
    const { name, cost, ...rest } = item as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) return `has unknown fields: ${extra.join(', ')} (known: name, cost)`;
    if (typeof name !== 'string' || !RATE_LIMIT_NAME.test(name))
      return 'names must be 1-32 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit';
    if (names.has(name)) return `names a limit twice: ${name}`;
    names.add(name);
    if (cost !== undefined && (!Number.isInteger(cost) || (cost as number) < 0 || (cost as number) > 1_000_000))
      return `cost of ${name} must be a whole number from 0 to 1000000`;
  }
  return undefined;
}

export function IsRateLimitSpendList() {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isRateLimitSpendList',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => rateLimitSpendProblem(value) === undefined,
        defaultMessage: (args) => `${propertyName} ${rateLimitSpendProblem(args?.value) ?? 'is invalid'}`,
      },
    });
}
