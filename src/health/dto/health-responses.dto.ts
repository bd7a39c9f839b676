import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class HealthResponse {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';
}

export class DegradedCheckResponse {
  @ApiProperty({ example: 'changeListener' })
  check: string;

  @ApiProperty({ example: 'LISTENER_DEAF' })
  code: string;

  @ApiProperty()
  message: string;
}

export class ReadinessResponse {
  @ApiProperty({ enum: ['ready', 'degraded'] })
  status: string;

  @ApiPropertyOptional({ type: [DegradedCheckResponse] })
  degraded?: DegradedCheckResponse[];
}
