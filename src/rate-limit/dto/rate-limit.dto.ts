import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';

/** A rate limit: at most `limit` requests in any `windowSeconds`. Keys and tenant defaults carry one. */
export interface RateLimitSetting {
  limit: number;
  windowSeconds: number;
}

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
