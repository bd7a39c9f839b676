import { ApiProperty } from '@nestjs/swagger';
import { SCOPES } from '../../common/auth/scopes';
import { RateLimitDto } from '../../rate-limit/dto/rate-limit.dto';

export class TenantResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'Acme Inc.' })
  name: string;

  @ApiProperty({ example: 'acme' })
  slug: string;

  @ApiProperty({ enum: ['active', 'suspended'] })
  status: string;

  @ApiProperty()
  maxKeysPerUser: number;

  @ApiProperty()
  maxKeysPerTenant: number;

  @ApiProperty({ type: Number, nullable: true })
  maxKeyLifetimeDays: number | null;

  @ApiProperty({ enum: SCOPES, isArray: true })
  defaultKeyScopes: string[];

  @ApiProperty({ type: RateLimitDto })
  defaultKeyRateLimit: RateLimitDto;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;
}

export class TenantPageResponse {
  @ApiProperty({ type: [TenantResponse] })
  items: TenantResponse[];

  @ApiProperty()
  page: number;

  @ApiProperty()
  limit: number;

  @ApiProperty()
  total: number;
}
