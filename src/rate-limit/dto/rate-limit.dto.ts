import { ApiProperty } from '@nestjs/swagger';
import {} from 'class-validator';

import type { RateLimitSetting } from '../rate-limit.types';
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
