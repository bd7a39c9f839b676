import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ANY_JSON } from '../../common/http/problem.dto';
import { IsBoolean, IsOptional, registerDecorator } from 'class-validator';

export const CONFIG_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const MAX_VALUE_BYTES = 16 * 1024;

function IsJsonOfAtMost(maxBytes: number) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isJsonOfAtMost',
      target: target.constructor,
      propertyName,
      validator: {
        validate: (value: unknown) => value !== undefined && Buffer.byteLength(JSON.stringify(value)) <= maxBytes,
        defaultMessage: (args) =>
          args?.value === undefined
            ? `${propertyName} is required (any JSON value, null included)`
            : `${propertyName} must be JSON of at most ${maxBytes} bytes`,
      },
    });
}

export class PutConfigEntryDto {
  @ApiProperty({ description: 'Any JSON value (null included), at most 16 kB', ...ANY_JSON })
  @IsJsonOfAtMost(MAX_VALUE_BYTES)
  value: unknown;

  @ApiPropertyOptional({ description: 'Encrypt at rest, mask in listings, serve only to keys with config:secrets' })
  @IsOptional()
  @IsBoolean()
  secret?: boolean;
}

export interface ConfigEntryDto {
  key: string;
  value: unknown;
  secret: boolean;
  updatedAt: Date;
}
