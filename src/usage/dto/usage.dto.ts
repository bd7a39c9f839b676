import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsIn, IsOptional } from 'class-validator';

export class UsageQuery {
  @ApiPropertyOptional({
    description: 'ISO 8601 start (inclusive); default: 24 hours (hour) or 30 days (day) before `to`',
  })
  @IsOptional()
  @IsDateString({ strict: true })
  from?: string;

  @ApiPropertyOptional({ description: 'ISO 8601 end (exclusive); default: now' })
  @IsOptional()
  @IsDateString({ strict: true })
  to?: string;

  @ApiPropertyOptional({ enum: ['hour', 'day'], default: 'hour' })
  @IsOptional()
  @IsIn(['hour', 'day'])
  granularity?: 'hour' | 'day';
}

export interface UsagePoint {
  /** Start of the bucket, UTC. */
  t: string;
  success: number;
  denied: Record<string, number>;
}

export interface UsageDto {
  from: string;
  to: string;
  granularity: 'hour' | 'day';
  series: UsagePoint[];
  totals: { success: number; denied: Record<string, number> };
}
