import { HttpStatus } from '@nestjs/common';
import { AppException } from '../common/http/problem';
import { PermissionQuery, PermissionQueryCache, PermissionQueryError } from './permission-query';

/** A permission query a caller sent (`where` names the field or header): parsed, or 400 saying what is wrong. */
export function permissionQueryOf(cache: PermissionQueryCache, source: string, where: string): PermissionQuery {
  try {
    return cache.parse(source);
  } catch (error) {
    if (!(error instanceof PermissionQueryError)) throw error;
    throw new AppException(HttpStatus.BAD_REQUEST, 'INVALID_PERMISSION_QUERY', `${where}: ${error.message}`);
  }
}
