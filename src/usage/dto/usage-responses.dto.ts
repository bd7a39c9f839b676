import { ApiProperty } from '@nestjs/swagger';

const DENIALS = {
  type: 'object',
  additionalProperties: { type: 'integer' },
  description: 'Denials by code',
} as const;

export class UsagePointResponse {
  @ApiProperty({ format: 'date-time', description: 'Start of the bucket, UTC' })
  t: string;

  @ApiProperty()
  success: number;

  @ApiProperty(DENIALS)
  denied: Record<string, number>;
}

export class UsageTotalsResponse {
  @ApiProperty()
  success: number;

  @ApiProperty(DENIALS)
  denied: Record<string, number>;
}

export class UsageResponse {
  @ApiProperty({ format: 'date-time' })
  from: string;

  @ApiProperty({ format: 'date-time' })
  to: string;

  @ApiProperty({ enum: ['hour', 'day'] })
  granularity: string;

  @ApiProperty({ type: [UsagePointResponse] })
  series: UsagePointResponse[];

  @ApiProperty({ type: UsageTotalsResponse })
  totals: UsageTotalsResponse;
}
