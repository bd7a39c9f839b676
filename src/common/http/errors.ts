import { HttpStatus } from '@nestjs/common';
import { AppException } from './problem';

/** True when a database error is a unique-constraint violation (optionally of one constraint). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const driverError =
    (error as { driverError?: { code?: string; constraint?: string } })?.driverError ??
    (error as { code?: string; constraint?: string });
  return driverError?.code === '23505' && (!constraint || driverError.constraint === constraint);
}

export const notFound = (what: string) => new AppException(HttpStatus.NOT_FOUND, 'NOT_FOUND', `${what} not found`);
