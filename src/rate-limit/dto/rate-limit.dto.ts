import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';

import type { RateLimitSetting } from '../rate-limit.types';

export type { RateLimitSetting } from '../rate-limit.types';

export class RateLimitDto implements RateLimitSetting {
  @ApiProperty({ example: 100 })
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  limit: number;

  @ApiProperty({ example: 1 })
  @IsInt()
  @Min(1)
  @Max(86_400)
  windowSeconds: number;
}
