import { HttpStatus, Injectable, PipeTransform } from '@nestjs/common';
import { AppException } from '../common/http/problem';
import { EXTERNAL_ID_MESSAGE, isExternalId } from './dto/external-id';

/** An externalId in a path, checked before any query: 400 naming the rule, never a lookup of garbage. */
@Injectable()
export class ExternalIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isExternalId(value))
      throw new AppException(HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED', `externalId ${EXTERNAL_ID_MESSAGE}`);
    return value;
  }
}
